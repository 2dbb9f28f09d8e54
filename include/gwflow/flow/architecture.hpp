#pragma once
// The shape of a standard model (mbank STD_GW_Flow) and its inference from parameter names.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace gwflow::flow {

/// An ordered state dict: (name, tensor) pairs in docs/flow.md sec. 1.4 order.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// D, one hidden width per MAF layer (n_layers = hidden.size()) and whether the model has the
/// trainable log-normalisation constant.
struct Architecture {
  int64_t dim = 0;
  std::vector<int64_t> hidden;
  bool has_constant = false;

  int64_t n_layers() const { return static_cast<int64_t>(hidden.size()); }
  /// Trainable parameters: sum_k (D^2 + 3D + 3DH_k + 4H_k^2 + 5H_k) (+1 with the constant).
  int64_t parameter_count() const;
  /// e.g. "D=3, n_layers=2, hidden=[10, 5], constant=yes".
  std::string describe() const;
  bool operator==(const Architecture& o) const {
    return dim == o.dim && hidden == o.hidden && has_constant == o.has_constant;
  }
  bool operator!=(const Architecture& o) const { return !(*this == o); }
};

/// The modules of mbank's STD_GW_Flow with this architecture, in nn.Module traversal order ("" for
/// the flow itself, then "_transform", ..., "_distribution", "_embedding_net"): the keys of the
/// `_metadata` that torch's state_dict() attaches (each MAF's residual MADE has nflows' 2 blocks).
std::vector<std::string> torch_module_names(const Architecture& arch);

/// Infers the architecture as mbank does: D from `low`, n_layers from the last key's index // 2,
/// each H from the second dimension of each `final_layer.mask`, constant iff `constant` exists.
/// Throws DomainError when the names do not form a standard model.
Architecture infer_architecture(const NamedTensors& state);

}  // namespace gwflow::flow
