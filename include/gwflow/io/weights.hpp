#pragma once
// Weights files: what mbank's `torch.save(flow.state_dict())` writes, a PyTorch zip archive holding
// an OrderedDict of tensors, loadable by `torch.load(..., weights_only=True)` (torch >= 2.6's
// default) and so by unmodified mbank.
#include <string>

#include "gwflow/flow/architecture.hpp"

namespace gwflow::io {

/// How messages name a weights file: "KEY = PATH" when it came from a config key (e.g.
/// "model.init"), else "PATH".
std::string weights_label(const std::string& path, const std::string& key);

/// `state` in the memory layout mbank's modules keep, which torch.save preserves: each NaiveLinear
/// `_weight` column-major (strides (1, D): nflows initialises it with a QR factor), every other
/// tensor row-major. Values are unchanged.
flow::NamedTensors as_mbank_layout(const flow::NamedTensors& state);

/// Writes `state`, a standard model's parameters in mbank's order, as torch.save writes
/// STD_GW_Flow.state_dict() (with its `_metadata`, in as_mbank_layout), atomically (partial name, fsync, rename). The
/// archive's folder is the file's stem, as torch.save names it. Not collective: call it on one rank.
void write_weights(const std::string& path, const flow::NamedTensors& state);

/// Reads a weights file written by gwflow or by torch.save (1.6 to 2.x) of a dict or OrderedDict
/// of tensors; keys in file order. `key` is the config key the path came from ("" for a command-line
/// argument). IoError("KEY = PATH: <problem>") when it is missing, unreadable, corrupt (CRC-32),
/// inconsistent (a tensor outside its storage), or not such an archive.
flow::NamedTensors read_weights(const std::string& path, const std::string& key);

}  // namespace gwflow::io
