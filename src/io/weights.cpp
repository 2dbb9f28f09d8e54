#include "gwflow/io/weights.hpp"

#include <regex>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/torch_archive.hpp"

namespace gwflow::io {

std::string weights_label(const std::string& path, const std::string& key) {
  return key.empty() ? path : key + " = " + path;
}

flow::NamedTensors as_mbank_layout(const flow::NamedTensors& state) {
  static const std::regex naive_linear(R"(_transform\._transforms\.\d*[13579]\._weight)");
  flow::NamedTensors out;
  for (const auto& [name, t] : state) {
    const bool column_major = t.dim() == 2 && std::regex_match(name, naive_linear);
    out.emplace_back(name, column_major ? t.detach().t().contiguous().t() : t.detach().contiguous());
  }
  return out;
}

void write_weights(const std::string& path, const flow::NamedTensors& state) {
  // torch.save names the archive's folder after the file: its base name without the extension.
  std::string stem = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (const auto dot = stem.find_last_of('.'); dot != std::string::npos) stem.resize(dot);
  if (stem.empty()) stem = "archive";
  const auto modules = flow::torch_module_names(flow::infer_architecture(state));
  write_file_atomic(path, write_torch_state_dict_archive(stem, as_mbank_layout(state), modules));
}

flow::NamedTensors read_weights(const std::string& path, const std::string& key) {
  const std::string label = weights_label(path, key);
  std::vector<char> bytes;
  try {
    bytes = read_file(path);
  } catch (const IoError& e) {
    const std::string what = e.what();  // "PATH: problem"
    throw IoError(key.empty() ? what : key + (what.compare(0, path.size(), path) == 0 ? " = " : ": ") + what);
  }
  return read_torch_state_dict_archive(label, bytes);
}

}  // namespace gwflow::io
