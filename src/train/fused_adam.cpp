#include "gwflow/train/fused_adam.hpp"

#include "gwflow/errors.hpp"

#include <cmath>
#include <memory>
#include <sstream>
#include <string>

namespace gwflow::train {
namespace {

template <typename T>
void update(T* p, const T* g, T* m, T* v, int64_t n, double lr, double b1, double b2, double eps, int64_t step) {
  const T bc1 = static_cast<T>(1 - std::pow(b1, static_cast<double>(step)));
  const T sqrt_bc2 = static_cast<T>(std::sqrt(1 - std::pow(b2, static_cast<double>(step))));
  const T step_size = static_cast<T>(lr) / bc1;
  const T tb1 = static_cast<T>(b1), tb2 = static_cast<T>(b2), a1 = static_cast<T>(1 - b1), a2 = static_cast<T>(1 - b2);
  const T te = static_cast<T>(eps);
  for (int64_t i = 0; i < n; ++i) {
    m[i] = m[i] * tb1 + a1 * g[i];
    v[i] = v[i] * tb2 + a2 * g[i] * g[i];
    p[i] += -step_size * (m[i] / (std::sqrt(v[i]) / sqrt_bc2 + te));  // as addcdiv_
  }
}

// LibTorch 1.13 keys the state by the address printed as text (c10::guts::to_string, gone since
// 2.2); later versions by the address. A template, so that only the branch in use is compiled.
template <typename Key> Key state_key_of(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << static_cast<const void*>(impl);
    return s.str();
  } else {
    return impl;
  }
}

}  // namespace

AdamStateKey adam_state_key(const torch::Tensor& p) { return state_key_of<AdamStateKey>(p.unsafeGetTensorImpl()); }

void fused_adam_step(torch::optim::Adam& adam) {
  for (auto& group : adam.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    if (o.weight_decay() != 0 || o.amsgrad()) {
      adam.step();
      return;
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& group : adam.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    const double b1 = std::get<0>(o.betas()), b2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = adam.state()[adam_state_key(p)];
      if (!slot) {
        auto st = std::make_unique<torch::optim::AdamParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(st);
      }
      auto& st = static_cast<torch::optim::AdamParamState&>(*slot);
      st.step(st.step() + 1);
      auto g = p.grad().contiguous();
      if (!p.is_contiguous() || !p.device().is_cpu() || !st.exp_avg().is_contiguous() ||
          !st.exp_avg_sq().is_contiguous() || g.scalar_type() != p.scalar_type()) {
        throw InternalError("fused_adam_step: expected contiguous CPU parameters and state");
      }
      if (p.scalar_type() == torch::kFloat64) {
        update(p.data_ptr<double>(), g.data_ptr<double>(), st.exp_avg().data_ptr<double>(),
               st.exp_avg_sq().data_ptr<double>(), p.numel(), o.lr(), b1, b2, o.eps(), st.step());
      } else {
        update(p.data_ptr<float>(), g.data_ptr<float>(), st.exp_avg().data_ptr<float>(),
               st.exp_avg_sq().data_ptr<float>(), p.numel(), o.lr(), b1, b2, o.eps(), st.step());
      }
    }
  }
}

}  // namespace gwflow::train
