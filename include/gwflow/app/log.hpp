#pragma once
// Rank-aware logging for the commands: rank 0 speaks for the job; other ranks only warn.
#include <string>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::app {

class Log {
 public:
  explicit Log(const parallel::Communicator& comm) : comm_(comm) {}
  /// -1 quiet (warnings, errors, summaries), 0 normal, 1 verbose. Process-wide.
  static void set_verbosity(int level);
  static int verbosity();
  /// Rank 0 only, stdout; not in quiet mode.
  void info(const std::string& line) const;
  /// Rank 0 only, stdout; always (final summaries).
  void summary(const std::string& line) const;
  /// Rank 0 only, stdout; verbose mode only.
  void detail(const std::string& line) const;
  /// Rank 0 only, stderr, "gwflow: warning: ...".
  void warn(const std::string& line) const;
  /// Any rank, stderr, prefixed with "[rank r]" on ranks other than 0.
  void warn_local(const std::string& line) const;

 private:
  const parallel::Communicator& comm_;
};

/// `text` as one printable line, for "gwflow: error:" and "gwflow: warning:" messages (whatever
/// a library or an input put in them): each line break, with the blanks around it, becomes "; ",
/// any other control byte '?'. The one place messages are flattened.
std::string one_line(const std::string& text);

/// Collective: prints (rank 0) gwflow's version and commit, the command, ranks, nodes, LibTorch
/// threads, library versions and BLAS, and (verbose) the resolved config.
void print_run_header(const Log& log, const parallel::Communicator& comm, const std::string& command,
                      const std::string& backend, const std::string& resolved_config);

/// Collective: the largest peak resident set size over the ranks, in MiB.
double peak_rss_mib(const parallel::Communicator& comm);

/// "1.23 s", "4 min 05 s", ...
std::string format_seconds(double s);

}  // namespace gwflow::app
