#include "gwflow/io/weights.hpp"

#include <torch/serialize.h>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/torch_archive.hpp"

namespace gwflow::io {

void write_weights(const std::string& path, const flow::NamedTensors& state) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : state) dict.insert(name, t.detach().cpu().contiguous().clone());
  write_file_atomic(path, torch::pickle_save(c10::IValue(dict)));
}

flow::NamedTensors read_weights(const std::string& path) {
  const std::vector<char> bytes = read_file(path);
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K') {
    throw IoError(path + ": not a PyTorch weights archive (no zip header)");
  }
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error&) {
    // mbank's own files pickle a collections.OrderedDict, which LibTorch 1.13 cannot unpickle
    // (an internal assert, not a clear message). gwflow's own reader handles that form, and for
    // anything else it says precisely what is wrong with the file.
    return read_torch_state_dict_archive(path, bytes);
  }
  if (!value.isGenericDict()) return read_torch_state_dict_archive(path, bytes);  // names what it holds
  flow::NamedTensors out;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      throw IoError(path + ": the archive's dict has a non-string key or a non-tensor value");
    }
    out.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  }
  return out;
}

}  // namespace gwflow::io
