#pragma once
// Checkpoint files: a generic, self-describing container (named tensors + attributes) written
// atomically, validated on reading, and found by iteration in a directory.
#include <map>
#include <string>
#include <vector>

#include "gwflow/flow/architecture.hpp"

namespace gwflow::io {

/// What a checkpoint holds. Tensor names must not contain '/'.
struct CheckpointContent {
  flow::NamedTensors tensors;
  std::map<std::string, std::string> text;
  std::map<std::string, double> numbers;
};

/// The file name of the checkpoint after `iteration` steps: "<dir>/checkpoint-<iteration>.h5".
std::string checkpoint_path(const std::string& dir, int64_t iteration);

/// Writes `content` to `path` atomically (partial name, fsync, rename), marking it complete last.
/// Not collective. Fault injection for tests: when the environment variable
/// GWFLOW_TEST_KILL_IN_CHECKPOINT=N is set, the process kills itself (SIGKILL) in the middle of
/// its N-th checkpoint write (after the tensors, before the file is complete and renamed).
void write_checkpoint_file(const std::string& path, const CheckpointContent& content);

/// Reads a checkpoint; IoError naming the file when it is truncated, corrupt, incomplete or not
/// a gwflow checkpoint.
CheckpointContent read_checkpoint_file(const std::string& path);

/// Checkpoint files in `dir`, newest (highest iteration) first.
std::vector<std::string> list_checkpoints(const std::string& dir);

/// Deletes all but the newest `keep` checkpoints in `dir` (and stale partial files).
void prune_checkpoints(const std::string& dir, size_t keep);

}  // namespace gwflow::io
