#pragma once
// PyTorch's zip archives holding a state dict, both ways: exactly what Python's
// torch.save(module.state_dict()) writes (an OrderedDict of _rebuild_tensor_v2 tensors over
// persistent-id storages, which `torch.load(..., weights_only=True)` accepts), and a strict
// reader of what torch 1.6 to 2.x torch.save writes for a dict of tensors. Only that pickle subset
// is understood; anything else is an IoError naming the file, never undefined behaviour.
#include <string>
#include <vector>

#include "gwflow/flow/architecture.hpp"

namespace gwflow::io {

/// Reads the {name: tensor} dict (OrderedDict, with or without `_metadata`, or dict) pickled in
/// the PyTorch zip archive `bytes`; `label` names the file in messages (e.g. "sample.weights =
/// w.zip"). Keys keep the pickle's order; every tensor is a fresh contiguous CPU tensor of its
/// storage's dtype (float16/32/64, bfloat16, int8/16/32/64, uint8), rebuilt from its storage offset,
/// size and stride after checking that the view lies inside its storage record. Every record's
/// CRC-32 is checked; records other than data.pkl, data/<key>, version, .format_version,
/// .storage_alignment, byteorder and .data/serialization_id are refused, as are big-endian
/// archives, compressed records, unknown pickle opcodes or globals and non-tensor values.
flow::NamedTensors read_torch_state_dict_archive(const std::string& label, const std::vector<char>& bytes);

/// The bytes of `torch.save(state)` for an OrderedDict `state` of CPU tensors, as torch 2.x writes
/// them: records `<archive_name>/data.pkl`, `.format_version`, `.storage_alignment`, `byteorder`,
/// `data/0..`, `version` and `.data/serialization_id`, each STORED and 64-byte aligned. When
/// `metadata_modules` is not empty the dict carries `_metadata` = {module: {'version': 1}} in that
/// order, as nn.Module.state_dict() sets it. The serialization id is derived from the content, so
/// equal inputs give equal bytes. Globals used: collections.OrderedDict,
/// torch._utils._rebuild_tensor_v2 and torch.<Type>Storage, all on torch's weights_only allowlist.
std::vector<char> write_torch_state_dict_archive(const std::string& archive_name, const flow::NamedTensors& state,
                                                 const std::vector<std::string>& metadata_modules);

}  // namespace gwflow::io
