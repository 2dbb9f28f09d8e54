#include "gwflow/kernels/kernel_flow.hpp"

#include <cstring>
#include <stdexcept>

#include <torch/csrc/autograd/custom_function.h>

#include "gwflow/errors.hpp"
#include "gwflow/flow/masked_affine_autoregressive.hpp"
#include "gwflow/flow/naive_linear.hpp"
#include "gwflow/kernels/packed_flow.hpp"

namespace gwflow::kernels {
namespace {

std::vector<double> to_vec(const torch::Tensor& t) {
  auto d = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

/// log_prob through the kernels, differentiable with respect to the flow's parameters.
struct KernelLogProb : torch::autograd::Function<KernelLogProb> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               torch::TensorList /*params*/, KernelFlow* k) {
    ctx->saved_data["kernel"] = reinterpret_cast<int64_t>(k);
    ctx->save_for_backward({x});
    auto [lp, id] = k->log_prob_saving(x);
    ctx->saved_data["saved"] = id;
    return lp;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto* k = reinterpret_cast<KernelFlow*>(ctx->saved_data["kernel"].toInt());
    auto x = ctx->get_saved_variables()[0];
    torch::autograd::variable_list out{torch::Tensor()};
    for (auto& g : k->parameter_gradient(x, grad_out[0], ctx->saved_data["saved"].toInt())) out.push_back(std::move(g));
    out.emplace_back();  // the KernelFlow pointer
    return out;
  }
};

}  // namespace

KernelFlow::KernelFlow(const flow::FlowImpl& f) : dtype_(f.dtype()), dim_(f.architecture().dim) {
  std::vector<std::vector<int64_t>> degrees;
  auto composite = f.transform();
  for (size_t i = 1; i + 1 < composite->size(); i += 2) {
    auto lin = std::dynamic_pointer_cast<flow::NaiveLinearImpl>(composite->at(i));
    auto maf = std::dynamic_pointer_cast<flow::MaskedAffineAutoregressiveImpl>(composite->at(i + 1));
    if (!lin || !maf) throw DomainError("kernels: the flow is not a standard model");
    auto net = maf->net();
    params_.push_back(lin->weight());
    params_.push_back(lin->bias());
    params_.push_back(net->initial_layer()->weight());
    params_.push_back(net->initial_layer()->bias());
    for (int b = 0; b < 2; ++b) {
      for (int j = 0; j < 2; ++j) {
        params_.push_back(net->block(b)->layer(j)->weight());
        params_.push_back(net->block(b)->layer(j)->bias());
      }
    }
    params_.push_back(net->final_layer()->weight());
    params_.push_back(net->final_layer()->bias());
    auto deg = net->initial_layer()->degrees().to(torch::kCPU).contiguous();
    degrees.emplace_back(deg.data_ptr<int64_t>(), deg.data_ptr<int64_t>() + deg.numel());
  }
  const auto low = to_vec(f.box()->low()), high = to_vec(f.box()->high());
  try {
    if (dtype_ == torch::kFloat64) {
      f64_ = std::make_unique<PackedFlow<double>>(static_cast<int>(dim_), low, high, degrees);
    } else {
      f32_ = std::make_unique<PackedFlow<float>>(static_cast<int>(dim_), low, high, degrees);
    }
  } catch (const std::invalid_argument& e) {
    throw DomainError(std::string("kernels: ") + e.what() + " (use backend = \"torch\")");
  }
  update();
}

KernelFlow::~KernelFlow() = default;

int64_t KernelFlow::forward_macs() const { return f64_ ? f64_->forward_macs() : f32_->forward_macs(); }

const IsaKernels& KernelFlow::variant() const { return f64_ ? f64_->variant() : f32_->variant(); }

void KernelFlow::update() {
  ++saved_id_;  // saved intermediates belong to the old parameters
  const int64_t n = f64_ ? f64_->n_parameters() : f32_->n_parameters();
  canonical_.resize(static_cast<size_t>(n));
  int64_t off = 0;
  for (const auto& p : params_) {
    const int64_t m = p.numel();
    double* dst = canonical_.data() + off;
    // Called after every optimizer step: read CPU parameters in place (no LibTorch op per tensor).
    if (p.device().is_cpu() && p.is_contiguous() && p.scalar_type() == torch::kFloat64) {
      std::memcpy(dst, p.data_ptr<double>(), static_cast<size_t>(m) * sizeof(double));
    } else if (p.device().is_cpu() && p.is_contiguous() && p.scalar_type() == torch::kFloat32) {
      const float* s = p.data_ptr<float>();
      for (int64_t i = 0; i < m; ++i) dst[i] = s[i];
    } else {
      auto t = p.detach().to(torch::kCPU, torch::kFloat64).contiguous();
      std::memcpy(dst, t.data_ptr<double>(), static_cast<size_t>(m) * sizeof(double));
    }
    off += m;
  }
  if (off != n) throw InternalError("kernels: parameter count mismatch");
  try {
    if (f64_) {
      f64_->set_parameters(canonical_.data());
    } else {
      f32_->set_parameters(canonical_.data());
    }
  } catch (const std::invalid_argument& e) {
    throw NumericsError(std::string("kernels: ") + e.what());
  }
}

torch::Tensor KernelFlow::log_prob(const torch::Tensor& x_in, torch::Tensor* z) const {
  TORCH_CHECK(x_in.dim() == 2 && x_in.size(1) == dim_, "kernels: expected points [N, ", dim_, "]");
  auto x = x_in.detach().to(torch::kCPU, dtype_).contiguous();
  const int64_t n = x.size(0);
  auto lp = torch::empty({n}, x.options());
  if (z) *z = torch::empty({n, dim_}, x.options());
  if (f64_) {
    f64_->log_prob(x.data_ptr<double>(), n, lp.data_ptr<double>(), z ? z->data_ptr<double>() : nullptr);
  } else {
    f32_->log_prob(x.data_ptr<float>(), n, lp.data_ptr<float>(), z ? z->data_ptr<float>() : nullptr);
  }
  return lp;
}

torch::Tensor KernelFlow::log_prob_with_grad(const torch::Tensor& x) {
  return KernelLogProb::apply(x, torch::TensorList(params_), this);
}

std::pair<torch::Tensor, int64_t> KernelFlow::log_prob_saving(const torch::Tensor& x_in) {
  TORCH_CHECK(x_in.dim() == 2 && x_in.size(1) == dim_, "kernels: expected points [N, ", dim_, "]");
  auto x = x_in.detach().to(torch::kCPU, dtype_).contiguous();
  const int64_t n = x.size(0);
  const int64_t need = f64_ ? f64_->saved_size(n) : f32_->saved_size(n);
  if (need * static_cast<int64_t>(x.element_size()) > kSaveBudgetBytes) return {log_prob(x), -1};
  if (!saved_.defined() || saved_.numel() < need) saved_ = torch::empty({need}, x.options());
  ++saved_id_;
  auto lp = torch::empty({n}, x.options());
  if (f64_) {
    f64_->log_prob(x.data_ptr<double>(), n, lp.data_ptr<double>(), nullptr, saved_.data_ptr<double>());
  } else {
    f32_->log_prob(x.data_ptr<float>(), n, lp.data_ptr<float>(), nullptr, saved_.data_ptr<float>());
  }
  return {lp, saved_id_};
}

std::vector<torch::Tensor> KernelFlow::parameter_gradient(const torch::Tensor& x_in, const torch::Tensor& g_in,
                                                          int64_t saved_id) const {
  auto x = x_in.detach().to(torch::kCPU, dtype_).contiguous();
  auto g = g_in.detach().to(torch::kCPU, dtype_).contiguous();
  TORCH_CHECK(x.dim() == 2 && x.size(1) == dim_ && g.numel() == x.size(0), "kernels: bad gradient arguments");
  std::vector<double> grad(canonical_.size(), 0.0);
  // The intermediates of log_prob_saving, if they are those of this x (same call, no repack since).
  const bool use_saved = saved_id >= 0 && saved_id == saved_id_;
  if (f64_) {
    f64_->gradient(x.data_ptr<double>(), g.data_ptr<double>(), x.size(0), grad.data(),
                   use_saved ? saved_.data_ptr<double>() : nullptr);
  } else {
    f32_->gradient(x.data_ptr<float>(), g.data_ptr<float>(), x.size(0), grad.data(),
                   use_saved ? saved_.data_ptr<float>() : nullptr);
  }
  return to_parameter_tensors(grad);
}

KernelFlow::SumGradient KernelFlow::log_prob_and_sum_gradient(const torch::Tensor& x_in) const {
  TORCH_CHECK(x_in.dim() == 2 && x_in.size(1) == dim_, "kernels: expected points [N, ", dim_, "]");
  auto x = x_in.detach().to(torch::kCPU, dtype_).contiguous();
  const int64_t n = x.size(0);
  SumGradient out;
  out.log_prob = torch::empty({n}, x.options());
  std::vector<double> grad(canonical_.size(), 0.0);
  if (f64_) {
    f64_->gradient(x.data_ptr<double>(), nullptr, n, grad.data(), nullptr, out.log_prob.data_ptr<double>());
  } else {
    f32_->gradient(x.data_ptr<float>(), nullptr, n, grad.data(), nullptr, out.log_prob.data_ptr<float>());
  }
  // Into one persistent buffer and its views (made once): no LibTorch op per parameter and step.
  if (!params_.front().device().is_cpu()) {
    out.parameters = to_parameter_tensors(grad, &out.flat);
    return out;
  }
  if (!sum_flat_.defined()) sum_views_ = to_parameter_tensors(grad, &sum_flat_);
  const int64_t m = static_cast<int64_t>(grad.size());
  if (sum_flat_.scalar_type() == torch::kFloat64) {
    std::memcpy(sum_flat_.data_ptr<double>(), grad.data(), static_cast<size_t>(m) * sizeof(double));
  } else {
    float* d = sum_flat_.data_ptr<float>();
    for (int64_t i = 0; i < m; ++i) d[i] = static_cast<float>(grad[i]);
  }
  out.flat = sum_flat_;
  out.parameters = sum_views_;
  return out;
}

std::vector<torch::Tensor> KernelFlow::to_parameter_tensors(const std::vector<double>& grad,
                                                            torch::Tensor* flat_out) const {
  // One conversion for all, then views of it (autograd can adopt them as the .grad tensors).
  auto flat = torch::from_blob(const_cast<double*>(grad.data()), {static_cast<int64_t>(grad.size())}, torch::kFloat64)
                  .to(params_.front().options(), false, true);
  std::vector<torch::Tensor> out;
  out.reserve(params_.size());
  int64_t off = 0;
  for (const auto& p : params_) {
    out.push_back(flat.narrow(0, off, p.numel()).view(p.sizes()));
    off += p.numel();
  }
  if (flat_out) *flat_out = flat;
  return out;
}

flow::Samples KernelFlow::sample_and_log_prob_from_noise(const torch::Tensor& z_in) const {
  TORCH_CHECK(z_in.dim() == 2 && z_in.size(1) == dim_, "kernels: expected noise [N, ", dim_, "]");
  auto z = z_in.detach().to(torch::kCPU, dtype_).contiguous();
  const int64_t n = z.size(0);
  flow::Samples s{torch::empty({n, dim_}, z.options()), torch::empty({n}, z.options())};
  if (f64_) {
    f64_->sample(z.data_ptr<double>(), n, s.x.data_ptr<double>(), s.log_prob.data_ptr<double>());
  } else {
    f32_->sample(z.data_ptr<float>(), n, s.x.data_ptr<float>(), s.log_prob.data_ptr<float>());
  }
  return s;
}

}  // namespace gwflow::kernels
