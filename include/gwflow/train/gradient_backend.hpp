#pragma once
// How a training step gets log p and the parameter gradients of the loss (docs/training.md sec.
// 2-3): one implementation per path, chosen once by make_gradient_backend.
//   - fused kernels, forward_KL: one fused forward + reverse pass gives log p and the gradient of
//     the sum of the finite log p, no autograd;
//   - fused kernels, regression losses: log p as an autograd node whose backward is the gradient
//     kernel;
//   - LibTorch: the reference path, autograd throughout.
// The Trainer calls local_loss, sums it over the ranks, then gradients and, after the gradient
// allreduce, step.
#include <memory>
#include <utility>

#include <torch/types.h>

#include "gwflow/flow/flow.hpp"
#include "gwflow/train/losses.hpp"

namespace torch::optim {
class Adam;
}

namespace gwflow::kernels {
class KernelFlow;
}

namespace gwflow::train {

class GradientBackend {
 public:
  virtual ~GradientBackend() = default;
  /// log p of `x` [N] and z [N, D] when asked; no graph (validation).
  virtual torch::Tensor log_prob(const torch::Tensor& x, torch::Tensor* z) = 0;
  /// This rank's part of the batch loss: the sum of its finite loss terms and their count. Keeps
  /// what gradients() needs.
  virtual std::pair<double, int64_t> local_loss(const torch::Tensor& x, const torch::Tensor& w, double w_min) = 0;
  /// Sets every parameter's gradient to that of (this rank's loss sum) / `global_rows`.
  virtual void gradients(double global_rows) = 0;
  /// One Adam step on the (allreduced) gradients.
  virtual void step() = 0;
  /// The parameters changed outside step() (a checkpoint was restored).
  virtual void parameters_changed() = 0;
};

/// `kernel` (may be null: LibTorch) evaluates `flow`; `adam` optimises the flow's parameters.
/// The backend keeps references to both.
std::unique_ptr<GradientBackend> make_gradient_backend(std::unique_ptr<kernels::KernelFlow> kernel,
                                                       flow::FlowImpl& flow, Loss loss, torch::optim::Adam& adam);

}  // namespace gwflow::train
