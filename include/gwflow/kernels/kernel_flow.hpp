#pragma once
// KernelFlow: the fused Kokkos kernels behind the same interface as flow::Flow's evaluation
// (log_prob / transform_to_noise / sampling), and as a differentiable log_prob for training (a
// torch autograd Function whose backward is the gradient kernel), built from a LibTorch model.
#include <memory>
#include <vector>

#include "gwflow/flow/flow.hpp"
#include "gwflow/kernels/tile_layout.hpp"

namespace gwflow::kernels {

template <typename T> class PackedFlow;

class KernelFlow {
 public:
  /// Packs `flow`'s current parameters (in its dtype) and keeps references to them: call update()
  /// after they change (e.g. after every optimizer step).
  explicit KernelFlow(const flow::FlowImpl& flow);
  ~KernelFlow();
  KernelFlow(const KernelFlow&) = delete;
  KernelFlow& operator=(const KernelFlow&) = delete;

  torch::Dtype dtype() const { return dtype_; }
  /// Repacks the flow's parameters.
  void update();
  /// log p(x) [N] (and z [N, D] when `z` is given): as flow::FlowImpl::log_prob/forward. No graph.
  torch::Tensor log_prob(const torch::Tensor& x, torch::Tensor* z = nullptr) const;
  /// log p(x) [N] as an autograd node over the flow's parameters: backward runs the gradient
  /// kernel with the upstream d loss / d log_prob of every row (the regression losses).
  torch::Tensor log_prob_with_grad(const torch::Tensor& x);
  /// d(sum_r g_r log p(x_r)) / d(parameter) for every parameter (in parameters() order). With the
  /// id of a log_prob_saving call for this x, its intermediates spare the forward pass.
  std::vector<torch::Tensor> parameter_gradient(const torch::Tensor& x, const torch::Tensor& g,
                                                int64_t saved_id = -1) const;
  /// log p(x) and d(sum of the finite log p) / d(parameter) in one fused pass, without autograd
  /// (forward_KL's gradient is this times -1/N): `parameters` are views of `flat` (in parameters()
  /// order), so one flat.mul_() scales them all. CPU flows: `flat` is the flow's own buffer,
  /// overwritten by the next call.
  struct SumGradient {
    torch::Tensor log_prob;
    torch::Tensor flat;
    std::vector<torch::Tensor> parameters;
  };
  SumGradient log_prob_and_sum_gradient(const torch::Tensor& x) const;

  /// For the autograd Function: log p(x) keeping every intermediate (when they fit in
  /// kSaveBudgetBytes) under the returned id (-1: not kept), for parameter_gradient.
  static constexpr int64_t kSaveBudgetBytes = int64_t(512) << 20;
  std::pair<torch::Tensor, int64_t> log_prob_saving(const torch::Tensor& x);
  /// x = inverse(z) and log p(x), as flow::FlowImpl::sample_and_log_prob_from_noise.
  flow::Samples sample_and_log_prob_from_noise(const torch::Tensor& z) const;

  /// The flow's parameters the kernels use (the canonical order), and the multiply-adds of one
  /// row's forward pass (for flop counts).
  const std::vector<torch::Tensor>& parameters() const { return params_; }
  int64_t forward_macs() const;
  /// The instruction-set variant of the kernels this flow runs (kernels/isa.hpp).
  const IsaKernels& variant() const;

 private:
  /// One tensor per parameter (views of `flat`, one buffer in the parameters' dtype, returned
  /// there when not null) from a canonical gradient.
  std::vector<torch::Tensor> to_parameter_tensors(const std::vector<double>& grad, torch::Tensor* flat = nullptr) const;

  torch::Dtype dtype_;
  int64_t dim_;
  std::vector<torch::Tensor> params_;
  std::vector<double> canonical_;
  torch::Tensor saved_;             // intermediates of the last log_prob_saving
  mutable torch::Tensor sum_flat_;  // log_prob_and_sum_gradient's buffer and its views
  mutable std::vector<torch::Tensor> sum_views_;
  int64_t saved_id_ = 0;
  std::unique_ptr<PackedFlow<float>> f32_;
  std::unique_ptr<PackedFlow<double>> f64_;
};

}  // namespace gwflow::kernels
