#include "gwflow/app/resumable_rounds.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "gwflow/app/log.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/parallel/signals.hpp"

namespace gwflow::app {
namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// Test-only fault injection: SIGKILL (rank 0) after the round that passes this many rows, before
/// its progress is committed (GWFLOW_TEST_KILL_AFTER_ROWS).
int64_t kill_after_rows() {
  const char* v = std::getenv("GWFLOW_TEST_KILL_AFTER_ROWS");
  return v ? std::atoll(v) : -1;
}

}  // namespace

ResumableRounds::ResumableRounds(const parallel::Communicator& comm, std::string command, int64_t total,
                                 std::function<int64_t(const io::Progress&)> rows_of)
    : comm_(comm), command_(std::move(command)), total_(total), rows_of_(std::move(rows_of)) {}

RoundsOutcome ResumableRounds::run(io::GenerationFile& out, io::Progress& progress,
                                   const std::function<void(io::Progress&, RoundFlags&)>& round,
                                   const std::function<void(const io::Progress&)>& check) {
  RoundsOutcome outcome;
  outcome.start = rows_of_(progress);
  const int64_t kill_rows = kill_after_rows();
  const double t0 = now_s();
  double last_commit = t0, last_report = t0;
  while (rows_of_(progress) < total_) {
    parallel::test_step_delay();
    RoundFlags flags;
    flags.stop = parallel::StopSignals::local() != 0 ? 1 : 0;
    // Rank 0's clock: a commit costs a flush and an fsync, about once a second.
    if (comm_.is_root() && now_s() - last_commit >= 1.0) {
      flags.commit_due = 1;
      last_commit = now_s();
    }
    round(progress, flags);
    const int64_t done = rows_of_(progress);
    if (kill_rows >= 0 && done >= kill_rows && comm_.is_root()) std::raise(SIGKILL);
    const bool last_round = done >= total_ || flags.stop > 0;
    if (flags.commit_due > 0 || last_round) out.commit(progress);
    // Rank 0 prints "rows done, rows/s, ETA" at most every 3 s.
    const double t = now_s();
    if (comm_.is_root() && t - last_report >= 3 && done < total_ && Log::verbosity() >= 0) {
      last_report = t;
      const double rate = (done - outcome.start) / std::max(t - t0, 1e-9);
      std::printf("%s: %lld / %lld rows (%.1f %%), %.3g rows/s, ETA %s\n", command_.c_str(),
                  static_cast<long long>(done), static_cast<long long>(total_),
                  100.0 * done / std::max<int64_t>(total_, 1), rate,
                  format_seconds((total_ - done) / std::max(rate, 1e-9)).c_str());
      std::fflush(stdout);
    }
    if (check) check(progress);
    if (flags.stop > 0 && done < total_) {
      outcome.stopped = true;
      break;
    }
  }
  outcome.seconds = now_s() - t0;
  outcome.peak_rss_mib = peak_rss_mib(comm_);
  if (outcome.stopped) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "%s: stopped by a signal at %lld of %lld rows (progress saved in %s); run the same command again "
                  "to finish",
                  command_.c_str(), static_cast<long long>(rows_of_(progress)), static_cast<long long>(total_),
                  io::partial_path(out.path()).c_str());
    Log(comm_).summary(buf);
  }
  return outcome;
}

}  // namespace gwflow::app
