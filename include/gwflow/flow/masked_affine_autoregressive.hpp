#pragma once
// MaskedAffineAutoregressive (nflows MaskedAffineAutoregressiveTransform) conditioned by a MADE.
#include "gwflow/flow/made.hpp"

namespace gwflow::flow {

/// Affine autoregressive layer: s = softplus(u) + 1e-3, z = s x + shift (forward),
/// x = (z - shift) / s by D passes of the MADE (inverse). Submodule `autoregressive_net`.
class MaskedAffineAutoregressiveImpl : public TransformImpl {
 public:
  static constexpr double kScaleEpsilon = 1e-3;
  MaskedAffineAutoregressiveImpl(int64_t features, int64_t hidden, torch::Dtype dtype);
  TransformResult forward(const torch::Tensor& x) override;
  TransformResult inverse(const torch::Tensor& z) override;
  Made net() const { return net_; }

 private:
  Made net_{nullptr};
};
TORCH_MODULE(MaskedAffineAutoregressive);

}  // namespace gwflow::flow
