#include "gwflow/flow/masked_affine_autoregressive.hpp"
#include "gwflow/flow/standard_normal.hpp"

namespace gwflow::flow {
namespace {

struct ScaleShift {
  torch::Tensor scale, shift;
};

ScaleShift scale_and_shift(const torch::Tensor& params, int64_t features) {
  auto p = params.view({-1, features, 2});
  auto u = p.select(2, 0);
  return {torch::nn::functional::softplus(u) + MaskedAffineAutoregressiveImpl::kScaleEpsilon, p.select(2, 1)};
}

}  // namespace

MaskedAffineAutoregressiveImpl::MaskedAffineAutoregressiveImpl(int64_t features, int64_t hidden, torch::Dtype dtype) {
  net_ = register_module("autoregressive_net", Made(features, hidden, dtype));
}

TransformResult MaskedAffineAutoregressiveImpl::forward(const torch::Tensor& x) {
  auto ss = scale_and_shift(net_->forward(x), net_->features());
  return {ss.scale * x + ss.shift, row_sum(torch::log(ss.scale))};
}

TransformResult MaskedAffineAutoregressiveImpl::inverse(const torch::Tensor& z) {
  // Pass k fixes dimension k; after D passes the result is exact (as nflows does it).
  auto x = torch::zeros_like(z);
  torch::Tensor lad;
  for (int64_t pass = 0; pass < net_->features(); ++pass) {
    auto ss = scale_and_shift(net_->forward(x), net_->features());
    x = (z - ss.shift) / ss.scale;
    lad = -row_sum(torch::log(ss.scale));
  }
  return {x, lad};
}

}  // namespace gwflow::flow
