#include "gwflow/flow/flow.hpp"

#include <map>

#include "gwflow/errors.hpp"
#include "gwflow/flow/masked_affine_autoregressive.hpp"
#include "gwflow/flow/naive_linear.hpp"
#include "gwflow/flow/standard_normal.hpp"

namespace gwflow::flow {
namespace {

void collect(const torch::nn::Module& m, const std::string& prefix, NamedTensors& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false)) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

FlowImpl::FlowImpl(Architecture arch, torch::Dtype dtype) : arch_(std::move(arch)), dtype_(dtype) {
  if (arch_.dim < 1) throw DomainError("model: D must be >= 1");
  if (arch_.hidden.empty()) throw DomainError("model.n_layers must be >= 1");
  for (int64_t h : arch_.hidden) {
    if (h < 1) throw DomainError("model.hidden_features: every width must be >= 1");
  }
  if (arch_.has_constant) {
    constant_ = register_parameter("constant", torch::zeros({1}, torch::TensorOptions().dtype(dtype)));
  }
  transform_ = register_module("_transform", Composite());
  box_ = TanhBox(arch_.dim, dtype);
  transform_->push_back(box_.ptr());
  for (int64_t h : arch_.hidden) {
    transform_->push_back(NaiveLinear(arch_.dim, dtype).ptr());
    transform_->push_back(MaskedAffineAutoregressive(arch_.dim, h, dtype).ptr());
  }
}

TransformResult FlowImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == arch_.dim, "flow: expected points [N, ", arch_.dim, "]");
  auto r = transform_->forward(x.to(dtype_));
  auto ok = torch::isfinite(r.logabsdet).unsqueeze(1);
  r.outputs = torch::where(ok, r.outputs, torch::full_like(r.outputs, NAN));
  return r;
}

torch::Tensor FlowImpl::log_prob(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == arch_.dim, "flow: expected points [N, ", arch_.dim, "]");
  auto r = transform_->forward(x.to(dtype_));
  // logabsdet carries -inf/NaN for rows outside the box; the noise of those rows is finite.
  return standard_normal_log_prob(r.outputs) + r.logabsdet;
}

TransformResult FlowImpl::inverse(const torch::Tensor& z) {
  TORCH_CHECK(z.dim() == 2 && z.size(1) == arch_.dim, "flow: expected noise [N, ", arch_.dim, "]");
  return transform_->inverse(z.to(dtype_));
}

Samples FlowImpl::sample_and_log_prob_from_noise(const torch::Tensor& z) {
  auto r = inverse(z);
  return {r.outputs, standard_normal_log_prob(z.to(dtype_)) - r.logabsdet};
}

Samples FlowImpl::sample_and_log_prob(int64_t n, std::optional<at::Generator> gen) {
  auto opts = torch::TensorOptions().dtype(dtype_);
  auto z = gen ? torch::randn({n, arch_.dim}, *gen, opts) : torch::randn({n, arch_.dim}, opts);
  return sample_and_log_prob_from_noise(z);
}

NamedTensors FlowImpl::state_dict() const {
  NamedTensors out;
  collect(*this, "", out);
  return out;
}

void FlowImpl::load_state_dict(const NamedTensors& state) {
  std::map<std::string, torch::Tensor> given;
  for (const auto& [name, t] : state) given[name] = t;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : state_dict()) {
    auto it = given.find(name);
    if (it == given.end()) throw DomainError("missing parameter '" + name + "'");
    if (it->second.sizes() != target.sizes()) {
      throw DomainError("parameter '" + name + "' has shape " + shape_str(it->second) + ", expected " +
                        shape_str(target));
    }
    target.copy_(it->second);
    given.erase(it);
  }
  if (!given.empty()) throw DomainError("unexpected parameter '" + given.begin()->first + "'");
}

}  // namespace gwflow::flow

namespace gwflow::flow {

Flow flow_from_state(const NamedTensors& state, torch::Dtype dtype) {
  Flow f(infer_architecture(state), dtype);
  f->load_state_dict(state);
  return f;
}

}  // namespace gwflow::flow
