#pragma once
// NaiveLinear (nflows): y = x W^T + b with a dense, invertible W.
#include "gwflow/flow/transform.hpp"

namespace gwflow::flow {

/// Parameters `bias` [D] (init 0) and `_weight` [D, D] (init: Q of the QR of a standard-normal
/// matrix, no sign fix). logabsdet = log|det W| for every row (negated for the inverse).
class NaiveLinearImpl : public TransformImpl {
 public:
  NaiveLinearImpl(int64_t dim, torch::Dtype dtype);
  TransformResult forward(const torch::Tensor& x) override;
  TransformResult inverse(const torch::Tensor& y) override;
  const torch::Tensor& weight() const { return weight_; }
  const torch::Tensor& bias() const { return bias_; }

 private:
  torch::Tensor bias_;
  torch::Tensor weight_;
};
TORCH_MODULE(NaiveLinear);

}  // namespace gwflow::flow
