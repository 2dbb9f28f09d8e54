#pragma once
// MADE (nflows MADE with residual blocks): the conditioner of a MaskedAffineAutoregressive layer.
#include <torch/nn/modules/container/modulelist.h>

#include "gwflow/flow/transform.hpp"

namespace gwflow::flow {

/// Hidden-unit degrees (1-based input degrees): deg[k] = k mod max(1, D-1) + min(1, D-1).
torch::Tensor hidden_degrees(int64_t features, int64_t hidden);
/// Output degrees [1,1,2,2,...,D,D] (each input degree repeated `multiplier` times).
torch::Tensor output_degrees(int64_t features, int64_t multiplier);

/// Masked linear layer: x (W * M)^T + b. Parameters `weight` [out, in], `bias` [out];
/// buffers `mask` [out, in] (float32 0/1) and `degrees` [out] (int64), in that order.
/// Init: weight and bias uniform in +-1/sqrt(in) (torch Linear's default).
class MaskedLinearImpl : public torch::nn::Module {
 public:
  /// Hidden layer: mask[k, j] = deg_out[k] >= deg_in[j]; output layer: strict >.
  MaskedLinearImpl(const torch::Tensor& in_degrees, const torch::Tensor& out_degrees, bool is_output,
                   torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x);
  const torch::Tensor& weight() const { return weight_; }
  const torch::Tensor& bias() const { return bias_; }
  const torch::Tensor& mask() const { return mask_; }
  const torch::Tensor& degrees() const { return degrees_; }

 private:
  torch::Tensor weight_, bias_, mask_, degrees_;
};
TORCH_MODULE(MaskedLinear);

/// Residual block: h + linear_1(relu(linear_0(relu(h)))); linear_1 re-initialised in +-1e-3.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(const torch::Tensor& degrees, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& h);
  MaskedLinear layer(int i) const { return layers_[i]; }

 private:
  torch::nn::ModuleList linear_layers_;
  MaskedLinear layers_[2] = {nullptr, nullptr};
};
TORCH_MODULE(ResidualBlock);

/// MADE with hidden width H, 2 residual blocks, ReLU, output multiplier 2: [N, D] -> [N, 2D],
/// unit 2i = unconstrained scale of dimension i, unit 2i+1 = its shift.
class MadeImpl : public torch::nn::Module {
 public:
  MadeImpl(int64_t features, int64_t hidden, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t features() const { return features_; }
  int64_t hidden() const { return hidden_; }
  MaskedLinear initial_layer() const { return initial_layer_; }
  ResidualBlock block(int b) const { return blocks_[b]; }
  MaskedLinear final_layer() const { return final_layer_; }

 private:
  int64_t features_, hidden_;
  MaskedLinear initial_layer_{nullptr};
  torch::nn::ModuleList block_list_;
  ResidualBlock blocks_[2] = {nullptr, nullptr};
  MaskedLinear final_layer_{nullptr};
};
TORCH_MODULE(Made);

}  // namespace gwflow::flow
