#pragma once
// KernelFlow: the fused Kokkos kernels behind the same interface as flow::Flow's evaluation
// (log_prob / transform_to_noise / sampling), built from a LibTorch model.
#include <memory>

#include "gwflow/flow/flow.hpp"

namespace gwflow::kernels {

template <typename T> class PackedFlow;

/// Packs `flow`'s current parameters (in its dtype). Rebuild after the parameters change.
class KernelFlow {
 public:
  explicit KernelFlow(const flow::FlowImpl& flow);
  ~KernelFlow();
  torch::Dtype dtype() const { return dtype_; }
  /// log p(x) [N] (and z [N, D] when `z` is given): as flow::FlowImpl::log_prob/forward.
  torch::Tensor log_prob(const torch::Tensor& x, torch::Tensor* z = nullptr) const;
  /// x = inverse(z) and log p(x), as flow::FlowImpl::sample_and_log_prob_from_noise.
  flow::Samples sample_and_log_prob_from_noise(const torch::Tensor& z) const;

 private:
  torch::Dtype dtype_;
  int64_t dim_;
  std::unique_ptr<PackedFlow<float>> f32_;
  std::unique_ptr<PackedFlow<double>> f64_;
};

}  // namespace gwflow::kernels
