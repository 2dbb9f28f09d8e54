#include "gwflow/flow/tanh_box.hpp"
#include "gwflow/flow/standard_normal.hpp"

#include <cmath>
#include <string>

#include "gwflow/errors.hpp"

namespace gwflow::flow {

std::pair<torch::Tensor, torch::Tensor> box_with_margin(const torch::Tensor& min, const torch::Tensor& max) {
  auto width = (max - min).to(torch::kFloat64);
  for (int64_t d = 0; d < width.size(0); ++d) {
    const double w = width[d].item<double>();
    if (!(w > 1e-20)) {
      throw DomainError("degenerate dimension " + std::to_string(d) + ": max - min = " + std::to_string(w) +
                        " (the box needs a positive width)");
    }
  }
  return {min - 0.01 * (max - min), max + 0.01 * (max - min)};
}

TanhBoxImpl::TanhBoxImpl(int64_t dim, torch::Dtype dtype) {
  auto opts = torch::TensorOptions().dtype(dtype);
  low_ = register_buffer("low", -torch::ones({dim}, opts));
  high_ = register_buffer("high", torch::ones({dim}, opts));
}

void TanhBoxImpl::set_box(const torch::Tensor& low, const torch::Tensor& high) {
  TORCH_CHECK(low.numel() == low_.numel() && high.numel() == high_.numel(), "TanhBox: box has the wrong dimension");
  if (!(high.to(torch::kFloat64) > low.to(torch::kFloat64)).all().item<bool>()) {
    throw DomainError("box: every high must exceed its low");
  }
  torch::NoGradGuard no_grad;
  low_.copy_(low.reshape({-1}));
  high_.copy_(high.reshape({-1}));
}

TransformResult TanhBoxImpl::forward(const torch::Tensor& x) {
  auto y = (2 * x - high_ - low_) / (high_ - low_);
  auto inside = (y.abs() < 1).all(1);  // false for NaN too
  auto nan_row = x.isnan().any(1);
  auto y_safe = torch::where(inside.unsqueeze(1), y, torch::zeros_like(y));
  auto z = torch::atanh(y_safe);
  // -log((1 - y^2) (high - low) / 2) with 1 - y^2 = (1 - y)(1 + y), accurate near the edges.
  auto lad = -row_sum(torch::log1p(-y_safe) + torch::log1p(y_safe) + torch::log(0.5 * (high_ - low_)));
  auto bad = torch::where(nan_row, torch::full_like(lad, NAN), torch::full_like(lad, -INFINITY));
  return {z, torch::where(inside, lad, bad)};
}

TransformResult TanhBoxImpl::inverse(const torch::Tensor& z) {
  auto t = torch::tanh(z);
  auto x = (t * (high_ - low_) + high_ + low_) / 2;
  // log(1 - tanh(z)^2) = 2 (log 2 - |z| - softplus(-2|z|)): finite for every finite z.
  auto a = z.abs();
  auto log1mt2 = 2 * (std::log(2.0) - a - torch::nn::functional::softplus(-2 * a));
  auto lad = row_sum(log1mt2 + torch::log(0.5 * (high_ - low_)));
  return {x, lad};
}

}  // namespace gwflow::flow
