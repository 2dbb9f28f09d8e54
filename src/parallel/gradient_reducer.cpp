#include "gwflow/parallel/gradient_reducer.hpp"

#include "gwflow/errors.hpp"

namespace gwflow::parallel {
namespace {

int64_t total_numel(const std::vector<torch::Tensor>& params) {
  int64_t n = 0;
  for (const auto& p : params) n += p.numel();
  return n;
}

}  // namespace

/// Copies every parameter's gradient into `flat` (zeros where there is none).
void gather_gradients(const std::vector<torch::Tensor>& params, torch::Tensor& flat) {
  int64_t off = 0;
  for (const auto& p : params) {
    auto view = flat.narrow(0, off, p.numel());
    if (p.grad().defined()) {
      view.copy_(p.grad().reshape({-1}));
    } else {
      view.zero_();
    }
    off += p.numel();
  }
}

/// Copies `flat` back into every parameter's gradient.
void scatter_gradients(std::vector<torch::Tensor>& params, const torch::Tensor& flat) {
  int64_t off = 0;
  for (auto& p : params) {
    auto view = flat.narrow(0, off, p.numel()).view(p.sizes());
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    p.mutable_grad().copy_(view);
    off += p.numel();
  }
}

MpiGradientReducer::MpiGradientReducer(const Communicator& comm, std::vector<torch::Tensor> params)
    : comm_(comm), params_(std::move(params)) {
  // MPI works on host memory: CUDA gradients are staged through this host buffer.
  auto opts = params_.empty() ? torch::TensorOptions() : params_[0].options().device(torch::kCPU);
  flat_ = torch::zeros({total_numel(params_)}, opts);
}

void MpiGradientReducer::allreduce() {
  torch::NoGradGuard no_grad;
  if (comm_.size() == 1) {  // nothing to add: the gradients are the global ones (if all defined)
    bool all = true;
    for (const auto& p : params_) all = all && p.grad().defined();
    if (all) return;
  }
  gather_gradients(params_, flat_);
  if (comm_.size() > 1) {
    if (flat_.scalar_type() == torch::kFloat64) {
      comm_.sum(flat_.data_ptr<double>(), flat_.numel());
    } else {
      comm_.sum(flat_.data_ptr<float>(), flat_.numel());
    }
  }
  scatter_gradients(params_, flat_);
}

config::Reducer choose_reducer(config::Reducer requested, bool cuda_tensors, bool nccl_available) {
  using config::Reducer;
  if (requested == Reducer::kNccl) {
    if (!nccl_available) {
      throw ConfigError("training.reducer = \"nccl\": this gwflow was built without NCCL (configure with "
                        "-DGWFLOW_ENABLE_NCCL=ON)");
    }
    if (!cuda_tensors) throw ConfigError("training.reducer = \"nccl\" needs training.device = \"cuda\"");
  }
  if (requested != Reducer::kAuto) return requested;
  return cuda_tensors && nccl_available ? Reducer::kNccl : Reducer::kMpi;
}

std::unique_ptr<GradientReducer> make_gradient_reducer(config::Reducer requested, const Communicator& comm,
                                                       std::vector<torch::Tensor> params) {
  const bool cuda = !params.empty() && params[0].is_cuda();
  if (choose_reducer(requested, cuda, nccl_built()) == config::Reducer::kNccl) {
    return std::make_unique<NcclGradientReducer>(comm, std::move(params));
  }
  return std::make_unique<MpiGradientReducer>(comm, std::move(params));
}

}  // namespace gwflow::parallel
