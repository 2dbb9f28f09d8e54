#include "gwflow/flow/made.hpp"

#include <cmath>

namespace gwflow::flow {

torch::Tensor hidden_degrees(int64_t features, int64_t hidden) {
  const int64_t max_ = std::max<int64_t>(1, features - 1);
  const int64_t min_ = std::min<int64_t>(1, features - 1);
  return torch::arange(hidden, torch::kInt64).remainder(max_) + min_;
}

torch::Tensor output_degrees(int64_t features, int64_t multiplier) {
  return torch::arange(1, features + 1, torch::kInt64).repeat_interleave(multiplier);
}

MaskedLinearImpl::MaskedLinearImpl(const torch::Tensor& in_degrees, const torch::Tensor& out_degrees, bool is_output,
                                   torch::Dtype dtype) {
  const int64_t in = in_degrees.size(0), out = out_degrees.size(0);
  auto opts = torch::TensorOptions().dtype(dtype);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight_ = register_parameter("weight", torch::empty({out, in}, opts).uniform_(-bound, bound));
  bias_ = register_parameter("bias", torch::empty({out}, opts).uniform_(-bound, bound));
  auto cmp = is_output ? out_degrees.unsqueeze(1).gt(in_degrees.unsqueeze(0))
                       : out_degrees.unsqueeze(1).ge(in_degrees.unsqueeze(0));
  mask_ = register_buffer("mask", cmp.to(torch::kFloat32));
  degrees_ = register_buffer("degrees", out_degrees.clone());
}

torch::Tensor MaskedLinearImpl::forward(const torch::Tensor& x) {
  return torch::nn::functional::linear(x, weight_ * mask_.to(weight_.dtype()), bias_);
}

ResidualBlockImpl::ResidualBlockImpl(const torch::Tensor& degrees, torch::Dtype dtype) {
  linear_layers_ = register_module("linear_layers", torch::nn::ModuleList());
  for (auto& layer : layers_) {
    layer = MaskedLinear(degrees, degrees, false, dtype);
    linear_layers_->push_back(layer);
  }
  torch::NoGradGuard no_grad;
  layers_[1]->weight().uniform_(-1e-3, 1e-3);
  layers_[1]->bias().uniform_(-1e-3, 1e-3);
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& h) {
  auto t = layers_[0]->forward(torch::relu(h));
  t = layers_[1]->forward(torch::relu(t));
  return h + t;
}

MadeImpl::MadeImpl(int64_t features, int64_t hidden, torch::Dtype dtype) : features_(features), hidden_(hidden) {
  auto in_deg = torch::arange(1, features + 1, torch::kInt64);
  auto hid_deg = hidden_degrees(features, hidden);
  initial_layer_ = register_module("initial_layer", MaskedLinear(in_deg, hid_deg, false, dtype));
  block_list_ = register_module("blocks", torch::nn::ModuleList());
  for (auto& block : blocks_) {
    block = ResidualBlock(hid_deg, dtype);
    block_list_->push_back(block);
  }
  final_layer_ = register_module("final_layer", MaskedLinear(hid_deg, output_degrees(features, 2), true, dtype));
}

torch::Tensor MadeImpl::forward(const torch::Tensor& x) {
  auto h = initial_layer_->forward(x);
  for (auto& block : blocks_) h = block->forward(h);
  return final_layer_->forward(h);
}

}  // namespace gwflow::flow
