#include "gwflow/kernels/kernel_flow.hpp"

#include <stdexcept>

#include "gwflow/errors.hpp"
#include "gwflow/flow/masked_affine_autoregressive.hpp"
#include "gwflow/flow/naive_linear.hpp"
#include "gwflow/kernels/packed_flow.hpp"

namespace gwflow::kernels {
namespace {

std::vector<double> to_vec(const torch::Tensor& t) {
  auto d = t.detach().to(torch::kFloat64).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

std::vector<double> masked(const flow::MaskedLinear& m) {
  return to_vec(m->weight().detach() * m->mask().to(m->weight().dtype()));
}

}  // namespace

KernelFlow::KernelFlow(const flow::FlowImpl& f) : dtype_(f.dtype()), dim_(f.architecture().dim) {
  torch::NoGradGuard no_grad;
  std::vector<LayerParams> layers;
  auto composite = f.transform();
  for (size_t i = 1; i + 1 < composite->size(); i += 2) {
    auto lin = std::dynamic_pointer_cast<flow::NaiveLinearImpl>(composite->at(i));
    auto maf = std::dynamic_pointer_cast<flow::MaskedAffineAutoregressiveImpl>(composite->at(i + 1));
    if (!lin || !maf) throw DomainError("kernels: the flow is not a standard model");
    LayerParams p;
    p.w = to_vec(lin->weight());
    p.b = to_vec(lin->bias());
    auto net = maf->net();
    p.w0 = masked(net->initial_layer());
    p.b0 = to_vec(net->initial_layer()->bias());
    for (int b = 0; b < 2; ++b) {
      for (int j = 0; j < 2; ++j) {
        p.wb[b][j] = masked(net->block(b)->layer(j));
        p.bb[b][j] = to_vec(net->block(b)->layer(j)->bias());
      }
    }
    p.wf = masked(net->final_layer());
    p.bf = to_vec(net->final_layer()->bias());
    auto deg = net->initial_layer()->degrees().contiguous();
    p.degrees.assign(deg.data_ptr<int64_t>(), deg.data_ptr<int64_t>() + deg.numel());
    layers.push_back(std::move(p));
  }
  const auto low = to_vec(f.box()->low()), high = to_vec(f.box()->high());
  try {
    if (dtype_ == torch::kFloat64) {
      f64_ = std::make_unique<PackedFlow<double>>(static_cast<int>(dim_), low, high, layers);
    } else {
      f32_ = std::make_unique<PackedFlow<float>>(static_cast<int>(dim_), low, high, layers);
    }
  } catch (const std::invalid_argument& e) {
    throw DomainError(std::string("kernels: ") + e.what() + " (use backend = \"torch\")");
  }
}

KernelFlow::~KernelFlow() = default;

torch::Tensor KernelFlow::log_prob(const torch::Tensor& x_in, torch::Tensor* z) const {
  TORCH_CHECK(x_in.dim() == 2 && x_in.size(1) == dim_, "kernels: expected points [N, ", dim_, "]");
  auto x = x_in.to(dtype_).contiguous();
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

flow::Samples KernelFlow::sample_and_log_prob_from_noise(const torch::Tensor& z_in) const {
  TORCH_CHECK(z_in.dim() == 2 && z_in.size(1) == dim_, "kernels: expected noise [N, ", dim_, "]");
  auto z = z_in.to(dtype_).contiguous();
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
