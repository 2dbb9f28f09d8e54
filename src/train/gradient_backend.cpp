#include "gwflow/train/gradient_backend.hpp"

#include <torch/optim/adam.h>

#include "gwflow/flow/standard_normal.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/train/fused_adam.hpp"

namespace gwflow::train {
namespace {

/// The loss terms of log p `lp` with targets `w`, over the rows with a finite log p.
torch::Tensor finite_terms(Loss loss, const flow::FlowImpl& flow, const torch::Tensor& lp, const torch::Tensor& w,
                           double w_min) {
  auto c = flow.constant().defined() ? flow.constant() : torch::zeros({1}, lp.options());
  return loss_terms(loss, lp, w, c, w_min).masked_select(torch::isfinite(lp));
}

/// LibTorch: autograd throughout, LibTorch's Adam.
class TorchGradient : public GradientBackend {
 public:
  TorchGradient(flow::FlowImpl& flow, Loss loss, torch::optim::Adam& adam) : flow_(flow), loss_(loss), adam_(adam) {}
  torch::Tensor log_prob(const torch::Tensor& x, torch::Tensor* z) override {
    auto r = flow_.forward(x);
    if (z) *z = r.outputs;
    return flow::standard_normal_log_prob(r.outputs) + r.logabsdet;
  }
  std::pair<double, int64_t> local_loss(const torch::Tensor& x, const torch::Tensor& w, double w_min) override {
    auto kept = finite_terms(loss_, flow_, flow_.log_prob(x), w, w_min);
    sum_ = kept.sum();
    return {sum_.item<double>(), kept.numel()};
  }
  void gradients(double global_rows) override {
    adam_.zero_grad();
    (sum_ / global_rows).backward();
  }
  void step() override { adam_.step(); }
  void parameters_changed() override {}

 private:
  flow::FlowImpl& flow_;
  Loss loss_;
  torch::optim::Adam& adam_;
  torch::Tensor sum_;
};

/// The fused kernels: log p (and, for the regression losses, an autograd node whose backward is
/// the gradient kernel), and the fused Adam step (LibTorch's per-tensor Adam costs more than the
/// kernels).
class KernelGradient : public GradientBackend {
 public:
  KernelGradient(std::unique_ptr<kernels::KernelFlow> kernel, flow::FlowImpl& flow, Loss loss, torch::optim::Adam& adam)
      : kernel_(std::move(kernel)), flow_(flow), loss_(loss), adam_(adam), params_(flow.parameters()) {}
  torch::Tensor log_prob(const torch::Tensor& x, torch::Tensor* z) override { return kernel_->log_prob(x, z); }
  std::pair<double, int64_t> local_loss(const torch::Tensor& x, const torch::Tensor& w, double w_min) override {
    auto kept = finite_terms(loss_, flow_, kernel_->log_prob_with_grad(x), w, w_min);
    sum_ = kept.sum();
    return {sum_.item<double>(), kept.numel()};
  }
  void gradients(double global_rows) override {
    // No zeroing and accumulation: backward hands the kernel's gradients over.
    for (auto& p : params_) p.mutable_grad() = torch::Tensor();
    (sum_ / global_rows).backward();
  }
  void step() override {
    fused_adam_step(adam_);
    kernel_->update();
  }
  void parameters_changed() override { kernel_->update(); }

 protected:
  std::unique_ptr<kernels::KernelFlow> kernel_;
  flow::FlowImpl& flow_;
  Loss loss_;
  torch::optim::Adam& adam_;
  std::vector<torch::Tensor> params_;
  torch::Tensor sum_;
};

/// forward_KL on the kernels needs no autograd: its gradient is -1/N times the gradient of the
/// sum of the finite log p, which the fused pass gives with log p itself.
class FusedForwardKlGradient : public KernelGradient {
 public:
  using KernelGradient::KernelGradient;
  std::pair<double, int64_t> local_loss(const torch::Tensor& x, const torch::Tensor&, double) override {
    pass_ = kernel_->log_prob_and_sum_gradient(x);
    const auto& lp = pass_.log_prob;
    auto kept = loss_terms(loss_, lp, torch::Tensor(), torch::Tensor(), 0).masked_select(torch::isfinite(lp));
    return {kept.sum().item<double>(), kept.numel()};
  }
  void gradients(double global_rows) override {
    for (auto& p : params_) p.mutable_grad() = torch::Tensor();
    pass_.flat.mul_(-1.0 / global_rows);  // every parameter's gradient is a view of it
    const auto& kp = kernel_->parameters();
    for (size_t i = 0; i < kp.size(); ++i) kp[i].mutable_grad() = pass_.parameters[i];
  }

 private:
  kernels::KernelFlow::SumGradient pass_;
};

}  // namespace

std::unique_ptr<GradientBackend> make_gradient_backend(std::unique_ptr<kernels::KernelFlow> kernel,
                                                       flow::FlowImpl& flow, Loss loss, torch::optim::Adam& adam) {
  if (!kernel) return std::make_unique<TorchGradient>(flow, loss, adam);
  if (loss == Loss::kForwardKL) return std::make_unique<FusedForwardKlGradient>(std::move(kernel), flow, loss, adam);
  return std::make_unique<KernelGradient>(std::move(kernel), flow, loss, adam);
}

}  // namespace gwflow::train
