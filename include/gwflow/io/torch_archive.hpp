#pragma once
// A strict reader of PyTorch zip archives holding a state dict, written by Python's
// torch.save(state_dict): mbank's weights files pickle a collections.OrderedDict, which LibTorch's
// torch::pickle_load rejects. Only the pickle subset torch.save emits for a dict of tensors is
// understood; anything else is an IoError, never undefined behaviour.
#include <string>
#include <vector>

#include "gwflow/flow/architecture.hpp"

namespace gwflow::io {

/// Reads the {name: tensor} dict (OrderedDict or dict) pickled in the PyTorch zip archive `bytes`
/// (the contents of the file `path`, used in messages only). Keys keep the pickle's order; every
/// tensor is a fresh contiguous CPU tensor of its storage's dtype (float16/32/64, bfloat16,
/// int8/16/32/64, uint8), rebuilt from its storage offset, size and stride. Zip entries must be
/// STORED (uncompressed), as PyTorch writes them. Throws IoError("<path>: ...") on anything outside
/// that subset: not a zip, compressed or truncated entries, CRC mismatch, no data.pkl, a missing
/// storage record, an unknown pickle opcode or global, a big-endian archive, a non-tensor value.
flow::NamedTensors read_torch_state_dict_archive(const std::string& path, const std::vector<char>& bytes);

}  // namespace gwflow::io
