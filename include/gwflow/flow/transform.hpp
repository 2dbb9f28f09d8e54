#pragma once
// The interface every flow transform implements (nflows convention: output and per-row logabsdet).
#include <torch/nn/module.h>
#include <torch/types.h>

namespace gwflow::flow {

/// What a transform returns: `outputs` [N, D] and `logabsdet` [N] = log|det J| of the map applied.
struct TransformResult {
  torch::Tensor outputs;
  torch::Tensor logabsdet;
};

/// A bijection of R^D (or of a box, for TanhBox). "forward" is data -> noise, "inverse" noise -> data.
class TransformImpl : public torch::nn::Module {
 public:
  ~TransformImpl() override = default;
  /// Data -> noise. `x` [N, D].
  virtual TransformResult forward(const torch::Tensor& x) = 0;
  /// Noise -> data. `z` [N, D].
  virtual TransformResult inverse(const torch::Tensor& z) = 0;
};

}  // namespace gwflow::flow
