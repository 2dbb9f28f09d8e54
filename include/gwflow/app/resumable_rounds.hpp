#pragma once
// The round loop that sample and logprob share (docs/files.md sec. 6.4): rounds until the output
// is complete; progress committed about once a second, at the end and at a stop; a stop signal
// seen by any rank agreed by all at the round's allreduce; rate reports; the test-only kill hook.
#include <cstdint>
#include <functional>
#include <string>

#include "gwflow/io/generation_file.hpp"
#include "gwflow/parallel/communicator.hpp"

namespace gwflow::app {

/// This rank's flags for one round: the round sums them over the ranks in its own allreduce
/// (with its counts), so that every rank sees the same values.
struct RoundFlags {
  int64_t stop = 0;        ///< ranks that saw a stop signal
  int64_t commit_due = 0;  ///< ranks whose commit clock ran out (rank 0's only)
};

struct RoundsOutcome {
  bool stopped = false;     ///< a stop signal ended the loop before the output was complete
  int64_t start = 0;        ///< rows done when the loop started (resumed files start later)
  double seconds = 0;       ///< wall time of the loop
  double peak_rss_mib = 0;  ///< the largest peak RSS over the ranks
};

class ResumableRounds {
 public:
  /// `command` names the rows in reports ("sample"); `total` is the row count of a complete
  /// output; `rows_of(progress)` is the rows done so far (rows written, for sample).
  ResumableRounds(const parallel::Communicator& comm, std::string command, int64_t total,
                  std::function<int64_t(const io::Progress&)> rows_of);

  /// Collective: runs `round(progress, flags)` until rows_of(progress) reaches the total or the
  /// ranks agree on a stop. After each round the progress is committed when due, and `check`
  /// (when given) may throw to give up. Writes the stop message itself.
  RoundsOutcome run(io::GenerationFile& out, io::Progress& progress,
                    const std::function<void(io::Progress&, RoundFlags&)>& round,
                    const std::function<void(const io::Progress&)>& check = {});

 private:
  const parallel::Communicator& comm_;
  std::string command_;
  int64_t total_;
  std::function<int64_t(const io::Progress&)> rows_of_;
};

}  // namespace gwflow::app
