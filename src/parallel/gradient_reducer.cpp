#include "gwflow/parallel/gradient_reducer.hpp"

namespace gwflow::parallel {

GradientReducer::GradientReducer(const Communicator& comm, std::vector<torch::Tensor> params)
    : comm_(comm), params_(std::move(params)) {
  int64_t n = 0;
  for (const auto& p : params_) n += p.numel();
  flat_ = torch::zeros({n}, params_.empty() ? torch::TensorOptions() : params_[0].options());
}

void GradientReducer::allreduce() {
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (auto& p : params_) {
    auto view = flat_.narrow(0, off, p.numel());
    if (p.grad().defined()) {
      view.copy_(p.grad().reshape({-1}));
    } else {
      view.zero_();
    }
    off += p.numel();
  }
  if (comm_.size() > 1) {
    if (flat_.scalar_type() == torch::kFloat64) {
      comm_.sum(flat_.data_ptr<double>(), flat_.numel());
    } else {
      comm_.sum(flat_.data_ptr<float>(), flat_.numel());
    }
  }
  off = 0;
  for (auto& p : params_) {
    auto view = flat_.narrow(0, off, p.numel()).view(p.sizes());
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    p.mutable_grad().copy_(view);
    off += p.numel();
  }
}

}  // namespace gwflow::parallel
