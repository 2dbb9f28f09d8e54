#pragma once
// Weights files: mbank-compatible PyTorch zip archives holding a {name: tensor} dict.
#include <string>

#include "gwflow/flow/architecture.hpp"

namespace gwflow::io {

/// Writes `state` (SPEC sec. 1.4 order) with torch::pickle_save, atomically (partial name,
/// fsync, rename). Python's torch.load returns a dict that mbank's load_state_dict accepts.
/// Not collective: call it on one rank.
void write_weights(const std::string& path, const flow::NamedTensors& state);

/// Reads a weights file written by gwflow, a plain-dict torch.save file, or mbank's torch.save of
/// an OrderedDict (read by read_torch_state_dict_archive); keys in file order.
/// IoError naming the file when it is missing, not a PyTorch archive, or not a {str: tensor} dict.
flow::NamedTensors read_weights(const std::string& path);

}  // namespace gwflow::io
