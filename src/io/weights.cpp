#include "gwflow/io/weights.hpp"

#include <torch/serialize.h>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"

namespace gwflow::io {

void write_weights(const std::string& path, const flow::NamedTensors& state) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : state) dict.insert(name, t.detach().contiguous().clone());
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
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    if (what.find("OrderedDict") != std::string::npos) {
      throw IoError(path + ": mbank OrderedDict weights files are not supported by this version; "
                           "re-save it as a plain dict (torch.save(dict(torch.load(f)), out))");
    }
    throw IoError(path + ": cannot read the PyTorch archive (" + what.substr(0, what.find('\n')) + ")");
  }
  if (!value.isGenericDict()) throw IoError(path + ": the archive does not hold a dict of tensors");
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
