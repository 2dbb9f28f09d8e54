#include "gwflow/flow/naive_linear.hpp"

namespace gwflow::flow {

// at::linalg_* rather than torch::linalg::*: LibTorch 2.15 dropped the torch/linalg.h wrappers.
NaiveLinearImpl::NaiveLinearImpl(int64_t dim, torch::Dtype dtype) {
  auto opts = torch::TensorOptions().dtype(dtype);
  bias_ = register_parameter("bias", torch::zeros({dim}, opts));
  auto q = std::get<0>(at::linalg_qr(torch::randn({dim, dim}, opts)));
  weight_ = register_parameter("_weight", q.contiguous());
}

TransformResult NaiveLinearImpl::forward(const torch::Tensor& x) {
  auto y = torch::nn::functional::linear(x, weight_, bias_);
  auto lad = std::get<1>(at::linalg_slogdet(weight_));
  return {y, lad.expand({x.size(0)})};
}

TransformResult NaiveLinearImpl::inverse(const torch::Tensor& y) {
  auto x = at::linalg_solve(weight_, (y - bias_).t(), /*left=*/true).t();
  auto lad = -std::get<1>(at::linalg_slogdet(weight_));
  return {x, lad.expand({y.size(0)})};
}

}  // namespace gwflow::flow
