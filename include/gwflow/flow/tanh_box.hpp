#pragma once
// TanhBox (mbank TanhTransform): maps the box [low, high] onto R^D with atanh.
#include "gwflow/flow/transform.hpp"

namespace gwflow::flow {

/// Box bounds with mbank's 1 % margin: low = min - 0.01 (max - min), high = max + 0.01 (max - min).
/// `min`, `max` [D]. Throws DomainError naming the dimension when max - min <= 1e-20.
std::pair<torch::Tensor, torch::Tensor> box_with_margin(const torch::Tensor& min, const torch::Tensor& max);

/// Buffers `low`, `high` [D]: set once from data (not trained by gradient).
/// gwflow improves on the reference: a row outside the open box gets logabsdet = -inf (NaN for a
/// row holding NaN) and output 0, without affecting the other rows; the inverse uses a
/// cancellation-free form of log(1 - tanh(z)^2) so saturated samples keep finite densities.
class TanhBoxImpl : public TransformImpl {
 public:
  TanhBoxImpl(int64_t dim, torch::Dtype dtype);
  TransformResult forward(const torch::Tensor& x) override;
  TransformResult inverse(const torch::Tensor& z) override;
  /// Sets the bounds (already including any margin). Checks low < high in every dimension.
  void set_box(const torch::Tensor& low, const torch::Tensor& high);
  const torch::Tensor& low() const { return low_; }
  const torch::Tensor& high() const { return high_; }

 private:
  torch::Tensor low_;
  torch::Tensor high_;
};
TORCH_MODULE(TanhBox);

}  // namespace gwflow::flow
