#include "gwflow/flow/architecture.hpp"

#include <map>
#include <regex>
#include <sstream>

#include "gwflow/errors.hpp"

namespace gwflow::flow {

int64_t Architecture::parameter_count() const {
  int64_t n = has_constant ? 1 : 0;
  const int64_t d = dim;
  for (int64_t h : hidden) n += d * d + 3 * d + 3 * d * h + 4 * h * h + 5 * h;
  return n;
}

std::string Architecture::describe() const {
  std::ostringstream s;
  s << "D=" << dim << ", n_layers=" << n_layers() << ", hidden=[";
  for (size_t i = 0; i < hidden.size(); ++i) s << (i ? ", " : "") << hidden[i];
  s << "], constant=" << (has_constant ? "yes" : "no");
  return s.str();
}

std::vector<std::string> torch_module_names(const Architecture& arch) {
  std::vector<std::string> out = {"", "_transform", "_transform._transforms", "_transform._transforms.0"};
  for (int64_t k = 0; k < arch.n_layers(); ++k) {
    out.push_back("_transform._transforms." + std::to_string(2 * k + 1));  // NaiveLinear
    const std::string made = "_transform._transforms." + std::to_string(2 * k + 2) + ".autoregressive_net";
    out.push_back("_transform._transforms." + std::to_string(2 * k + 2));  // MAF
    out.push_back(made);
    out.push_back(made + ".initial_layer");
    out.push_back(made + ".blocks");
    for (int b = 0; b < 2; ++b) {
      const std::string block = made + ".blocks." + std::to_string(b);
      for (const char* m : {"", ".linear_layers", ".linear_layers.0", ".linear_layers.1", ".dropout"}) {
        out.push_back(block + m);
      }
    }
    out.push_back(made + ".final_layer");
  }
  out.push_back("_distribution");
  out.push_back("_embedding_net");
  return out;
}

Architecture infer_architecture(const NamedTensors& state) {
  if (state.empty()) throw DomainError("no parameters found");
  Architecture arch;
  const std::string prefix = "_transform._transforms.";
  std::map<int64_t, int64_t> widths;  // MAF index -> H
  const std::regex mask_re(R"(_transform\._transforms\.(\d+)\.autoregressive_net\.final_layer\.mask)");
  for (const auto& [name, t] : state) {
    std::smatch m;
    if (name == "constant") {
      arch.has_constant = true;
    } else if (name == prefix + "0.low") {
      arch.dim = t.numel();
    } else if (std::regex_match(name, m, mask_re)) {
      if (t.dim() != 2) throw DomainError("'" + name + "' is not a matrix");
      widths[std::stoll(m[1])] = t.size(1);
    }
  }
  if (arch.dim <= 0) throw DomainError("no '" + prefix + "0.low' entry (not a gwflow/mbank flow)");
  const std::string& last = state.back().first;
  if (last.rfind(prefix, 0) != 0) throw DomainError("last entry '" + last + "' is not a transform");
  const int64_t n_layers = std::stoll(last.substr(prefix.size())) / 2;
  for (int64_t k = 0; k < n_layers; ++k) {
    auto it = widths.find(2 * k + 2);
    if (it == widths.end()) {
      throw DomainError("missing '" + prefix + std::to_string(2 * k + 2) + ".autoregressive_net.final_layer.mask'");
    }
    arch.hidden.push_back(it->second);
  }
  if (n_layers == 0) throw DomainError("the flow has no MAF layers");
  return arch;
}

}  // namespace gwflow::flow
