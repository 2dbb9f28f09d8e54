#pragma once
// The checkpoint part of a training (docs/files.md sec. 5): writes the state after an iteration
// as output.dir/checkpoint-<iteration>.h5 (rank 0, atomic, the newest two kept), with the restart
// identity of the config and the fingerprints of the data files, and checks both before a
// restart.
#include <cstdint>
#include <functional>
#include <string>

#include "gwflow/config/config.hpp"
#include "gwflow/io/checkpoint_file.hpp"
#include "gwflow/parallel/communicator.hpp"

namespace gwflow::train {

class Checkpointer {
 public:
  Checkpointer(const config::Config& config, const parallel::Communicator& comm) : config_(config), comm_(comm) {}

  /// Collective: rank 0 writes the checkpoint of `iteration` into `dir` with what `fill` puts in
  /// it (called on rank 0 only) and prunes the older ones; every rank returns once it is
  /// complete on disk, or throws rank 0's error (the previous checkpoints stay as they were).
  /// Returns the file's path; does nothing when that iteration's checkpoint was just written
  /// or restored.
  std::string save(const std::string& dir, int64_t iteration, const std::function<void(io::CheckpointContent&)>& fill);
  /// Throws ConfigError when `checkpoint` (read from `source`) belongs to another restart
  /// identity or to changed data files, or was written by a gwflow that recorded no per-key
  /// identity (the message names its version). Not collective.
  void check_compatible(const io::CheckpointContent& checkpoint, const std::string& source) const;
  /// A restore reached `iteration`: its checkpoint need not be written again.
  void restored(int64_t iteration) { last_iteration_ = iteration; }

  /// Seconds and bytes of the last write (rank 0's view).
  double last_seconds() const { return last_seconds_; }
  int64_t last_bytes() const { return last_bytes_; }

 private:
  const config::Config& config_;
  const parallel::Communicator& comm_;
  int64_t last_iteration_ = -1;
  double last_seconds_ = 0;
  int64_t last_bytes_ = 0;
};

}  // namespace gwflow::train
