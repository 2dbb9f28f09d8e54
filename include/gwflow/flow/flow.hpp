#pragma once
// Flow: the standard model (mbank STD_GW_Flow) with its base distribution and state dict.
#include <optional>

#include <ATen/core/Generator.h>

#include "gwflow/flow/architecture.hpp"
#include "gwflow/flow/composite.hpp"
#include "gwflow/flow/tanh_box.hpp"

namespace gwflow::flow {

/// Samples and their log densities: `x` [N, D], `log_prob` [N].
struct Samples {
  torch::Tensor x;
  torch::Tensor log_prob;
};

/// TanhBox, then n_layers x (NaiveLinear, MaskedAffineAutoregressive), standard normal base.
/// Module names follow mbank exactly: `constant` (optional), `_transform._transforms.<i>.*`.
/// Parameters are created in `dtype` (float32 or float64) and initialised from torch's global
/// generator (seed it with torch::manual_seed for a reproducible init).
class FlowImpl : public torch::nn::Module {
 public:
  FlowImpl(Architecture arch, torch::Dtype dtype);

  const Architecture& architecture() const { return arch_; }
  torch::Dtype dtype() const { return dtype_; }

  /// log p(x) per row [N]: -inf for rows outside the box, NaN for rows with NaN.
  torch::Tensor log_prob(const torch::Tensor& x);
  /// forward(x) = (z, sum of logabsdets); z is NaN in rows whose log_prob is not finite.
  TransformResult forward(const torch::Tensor& x);
  /// z = forward(x).outputs.
  torch::Tensor transform_to_noise(const torch::Tensor& x) { return forward(x).outputs; }
  /// Noise -> data with the inverse logabsdet [N].
  TransformResult inverse(const torch::Tensor& z);
  /// x = inverse(z) and log p(x) = log N(z) - inverse logabsdet (finite for finite z).
  Samples sample_and_log_prob_from_noise(const torch::Tensor& z);
  /// Draws z ~ N(0, I) [n, D] from `gen` (torch's default generator when none) and maps it.
  Samples sample_and_log_prob(int64_t n, std::optional<at::Generator> gen = std::nullopt);

  TanhBox box() const { return box_; }
  /// The trainable constant [1]; undefined when the architecture has none.
  const torch::Tensor& constant() const { return constant_; }
  Composite transform() const { return transform_; }

  /// Parameters and buffers in docs/flow.md sec. 1.4 order (the weights-file layout).
  NamedTensors state_dict() const;
  /// Copies every entry into the model (casting dtypes); throws DomainError on a missing,
  /// unexpected or wrongly shaped entry, naming it.
  void load_state_dict(const NamedTensors& state);

 private:
  Architecture arch_;
  torch::Dtype dtype_;
  torch::Tensor constant_;
  Composite transform_{nullptr};
  TanhBox box_{nullptr};
};
TORCH_MODULE(Flow);

}  // namespace gwflow::flow

namespace gwflow::flow {

/// A flow of the architecture inferred from `state` (as mbank does), in `dtype`, holding the
/// values of `state`. Throws DomainError when the entries do not form a standard model.
Flow flow_from_state(const NamedTensors& state, torch::Dtype dtype);

}  // namespace gwflow::flow
