// The fused Kokkos kernels against the LibTorch model (the reference): every fixture model and
// random models (D = 1..8, several widths and layer counts, float64 and float32): log_prob, z,
// samples and their log_prob, and every parameter gradient (the gradient kernel directly, through
// the autograd Function, and the fused forward + reverse pass of forward_KL); 1e-12 relative in
// float64 (1e-10 on the fixtures' extreme weights); in float32, log p and z against the float64
// reference within a bound of eps32 times the magnitude of their intermediates (test_util.hpp),
// and samples and gradients within a multiple of LibTorch's own float32 error. Every test runs
// once per instruction-set variant of the kernels in this build (Kernels/*.X/v2, v3, v4, ...),
// forced one at a time; a variant this CPU cannot run is skipped.
#include <torch/serialize.h>

#include "gwflow/flow/flow.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/kernels/isa.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "test_util.hpp"

namespace gwflow::kernels {
namespace {

flow::Flow random_flow(int64_t d, std::vector<int64_t> hidden, torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  flow::Flow f(flow::Architecture{d, std::move(hidden), false}, dtype);
  torch::NoGradGuard g;
  // Move the MADE weights well away from their init; keep the linear layers orthogonal (a random
  // perturbation of W makes the inverse ill-conditioned, and then only rounding is compared).
  for (auto& p : f->named_parameters()) {
    if (p.key().find("_weight") == std::string::npos) p.value().add_(0.2 * torch::randn_like(p.value()));
  }
  f->box()->set_box(torch::full({d}, -3.0), torch::full({d}, 4.0));
  return f;
}

/// The same model evaluated by LibTorch in float64 (the most accurate reference available).
flow::Flow as_float64(const flow::Flow& f) { return flow::flow_from_state(f->state_dict(), torch::kFloat64); }

void compare(flow::Flow& f, double tol) {
  torch::NoGradGuard g;
  const int64_t d = f->architecture().dim;
  KernelFlow k(*f);
  auto x = (0.5 + 3.2 * torch::tanh(torch::randn({300, d}, torch::kFloat64))).to(f->dtype());
  x[5][0] = 10.0;  // outside the box
  torch::Tensor zk;
  auto lpk = k.log_prob(x, &zk);
  if (f->dtype() == torch::kFloat64) {
    EXPECT_LT(test::max_rel_error(lpk, f->log_prob(x)), tol) << "log_prob";
    EXPECT_LT(test::max_rel_error(zk, f->transform_to_noise(x)), tol) << "z";
  } else {
    auto f64 = as_float64(f);
    const auto mag = test::magnitudes(*f, x);
    auto x64 = x.to(torch::kFloat64);
    EXPECT_LT(test::eps32_units(lpk, f64->log_prob(x64), mag.log_prob), test::kLogProbEps32Units) << "log_prob";
    EXPECT_LT(test::eps32_units(zk, f64->transform_to_noise(x64), mag.values), test::kNoiseEps32Units) << "z";
  }
  EXPECT_EQ(lpk[5].item<double>(), -INFINITY);
  auto z = torch::randn({300, d}, f->dtype());
  auto sk = k.sample_and_log_prob_from_noise(z);
  if (f->dtype() == torch::kFloat64) {
    // LibTorch in float64 is the reference; 10x the forward tolerance for the amplification
    // through the D sequential passes of each layer.
    auto ref = f->sample_and_log_prob_from_noise(z);
    EXPECT_LT(test::max_rel_error(sk.x, ref.x), 10 * tol) << "samples";
    EXPECT_LT(test::max_rel_error(sk.log_prob, ref.log_prob), 10 * tol) << "sample log_prob";
    return;
  }
  // float32: the inverse amplifies rounding by the flow's conditioning (divisions by scales down to
  // 1e-3, D sequential passes, the tanh box's edges). The bound per row follows it: K eps32 times
  // (|x| + sum_j |dx/dz_j| M), M the magnitude of the intermediates, with the Jacobian of the
  // float64 inverse (autograd); the same for the sample's log_prob with d log_prob / dz. LibTorch's
  // own float32 result must meet the bound as well, so that it is not fitted to one code's rounding.
  auto f64 = as_float64(f);
  torch::Tensor x64, lp64, dx, dlp;
  {
    torch::AutoGradMode on(true);
    auto z64 = z.to(torch::kFloat64).detach().requires_grad_(true);
    auto out = f64->sample_and_log_prob_from_noise(z64);
    dx = torch::zeros_like(out.x);
    for (int64_t i = 0; i < d; ++i) {  // rows are independent: the gradient of a column sum is per row
      auto g = torch::autograd::grad({out.x.select(1, i).sum()}, {z64}, {}, /*retain_graph=*/true)[0];
      dx.select(1, i).copy_(g.abs().sum(1));
    }
    dlp = torch::autograd::grad({out.log_prob.sum()}, {z64})[0].abs().sum(1);
    x64 = out.x.detach();
    lp64 = out.log_prob.detach();
  }
  const auto mag = test::magnitudes(*f, x64);
  auto m = torch::maximum(mag.values, z.to(torch::kFloat64).abs().amax(1)).clamp_min(1.0);
  auto ok = (torch::isfinite(dx).all(1) & torch::isfinite(dlp) & torch::isfinite(m) & torch::isfinite(lp64) &
             (mag.values > 0))
                .nonzero()
                .squeeze(1);
  // Random models saturate their box often: rows sampled onto its edge have no finite Jacobian.
  EXPECT_GE(ok.size(0), 60) << "rows with a finite float64 Jacobian";
  auto units = [&](const flow::Samples& r) {
    auto ex =
        (r.x.to(torch::kFloat64) - x64).abs() / (test::kFloat32Eps * (x64.abs() + dx * m.unsqueeze(1)).clamp_min(1.0));
    auto elp =
        (r.log_prob.to(torch::kFloat64) - lp64).abs() / (test::kFloat32Eps * (mag.log_prob + dlp * m).clamp_min(1.0));
    return std::make_pair(ex.index_select(0, ok).max().item<double>(), elp.index_select(0, ok).max().item<double>());
  };
  const auto [kx, klp] = units(sk);
  const auto [tx, tlp] = units(f->sample_and_log_prob_from_noise(z));
  EXPECT_LT(tx, test::kNoiseEps32Units) << "LibTorch's float32 samples (the bound itself)";
  EXPECT_LT(tlp, test::kLogProbEps32Units) << "LibTorch's float32 sample log_prob (the bound itself)";
  EXPECT_LT(kx, test::kNoiseEps32Units) << "samples (LibTorch: " << tx << " eps32 units)";
  EXPECT_LT(klp, test::kLogProbEps32Units) << "sample log_prob (LibTorch: " << tlp << " eps32 units)";
  if (std::getenv("GWFLOW_TEST_SHOW_UNITS")) {
    std::printf("samples: kernels %.2f, LibTorch %.2f; sample log_prob: kernels %.2f, LibTorch %.2f eps32 units\n", kx,
                tx, klp, tlp);
  }
}

/// max |a - b| / max |b| (gradients sum over rows: an elementwise relative error is meaningless
/// for entries that cancel).
double grad_error(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  const double scale = std::max(b64.abs().max().item<double>(), 1e-300);
  return (a64 - b64).abs().max().item<double>() / scale;
}

/// LibTorch autograd: d(sum_r g_r log p(x_r)) / d(parameter) over the rows with a finite
/// log_prob, in KernelFlow::parameters() order.
std::vector<torch::Tensor> torch_gradient(flow::Flow& f, const torch::Tensor& x, const torch::Tensor& g) {
  torch::AutoGradMode grad_mode(true);
  KernelFlow order(*f);
  auto params = order.parameters();
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  auto lp = f->log_prob(x.to(f->dtype()));
  (lp * g.to(f->dtype())).masked_select(torch::isfinite(lp)).sum().backward();
  std::vector<torch::Tensor> out;
  for (auto& p : params) {
    out.push_back(p.grad().clone());
    p.mutable_grad() = torch::Tensor();
  }
  return out;
}

/// Gradients: the kernel against LibTorch in float64 on the same inputs, directly and through
/// KernelFlow::log_prob_with_grad and backward(). In float32 the bound is `tol` or four times
/// LibTorch's own float32 error, whichever is larger (both round sums over rows, in different orders).
void compare_gradients(flow::Flow& f, double tol) {
  torch::AutoGradMode grad_mode(true);
  const int64_t d = f->architecture().dim;
  KernelFlow k(*f);
  auto x = (0.5 + 3.2 * torch::tanh(torch::randn({333, d}, torch::kFloat64))).to(f->dtype());
  x[7][0] = 10.0;  // outside the box: no contribution
  // Upstream weights of one sign, as the losses give (forward_KL: -1/N): a sum over rows of
  // random signs would cancel and measure only the rounding of the cancellation.
  auto g = 0.5 + torch::rand({333}, f->dtype());
  auto f64 = as_float64(f);
  const auto ref = torch_gradient(f64, x.to(torch::kFloat64), g.to(torch::kFloat64));
  std::vector<double> bound(ref.size(), tol);
  if (f->dtype() != torch::kFloat64) {
    const auto own = torch_gradient(f, x, g);
    for (size_t i = 0; i < ref.size(); ++i) bound[i] = std::max(tol, 4 * grad_error(own[i], ref[i]));
  }
  auto params = k.parameters();
  auto mine = k.parameter_gradient(x, g);
  ASSERT_EQ(mine.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_EQ(mine[i].dtype(), params[i].dtype());
    EXPECT_LT(grad_error(mine[i], ref[i]), bound[i]) << "parameter " << i << " of " << ref.size();
  }
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  auto lpk = k.log_prob_with_grad(x);
  ASSERT_TRUE(lpk.requires_grad());
  (lpk * g).masked_select(torch::isfinite(lpk)).sum().backward();
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined());
    EXPECT_LT(grad_error(params[i].grad(), ref[i]), bound[i]) << "autograd, parameter " << i;
  }
  // Through autograd again, with a uniform upstream (as forward_KL's) and a varied one: the
  // saved intermediates of one forward serve one backward.
  for (bool uniform : {true, false}) {
    auto gu = uniform ? torch::full_like(g, 0.75) : g;
    const auto want = torch_gradient(f64, x.to(torch::kFloat64), gu.to(torch::kFloat64));
    std::vector<double> fb(ref.size(), tol);
    if (f->dtype() != torch::kFloat64) {
      const auto own = torch_gradient(f, x, gu);
      for (size_t i = 0; i < ref.size(); ++i) fb[i] = std::max(tol, 4 * grad_error(own[i], want[i]));
    }
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    auto lpu = k.log_prob_with_grad(x);
    (lpu * gu).masked_select(torch::isfinite(lpu)).sum().backward();
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_LT(grad_error(params[i].grad(), want[i]), fb[i])
          << (uniform ? "uniform" : "varied") << " upstream, parameter " << i;
    }
  }
  // The trainer's forward_KL path without autograd: log p and the gradient of the sum of log p.
  {
    auto pass = k.log_prob_and_sum_gradient(x);
    const auto& lps = pass.log_prob;
    const auto& sum_grad = pass.parameters;
    EXPECT_EQ(pass.flat.data_ptr(), sum_grad.front().data_ptr()) << "the gradients are views of flat";
    EXPECT_TRUE(torch::equal(lps, k.log_prob(x)));
    auto ones = torch::ones_like(g);
    const auto want = torch_gradient(f64, x.to(torch::kFloat64), ones.to(torch::kFloat64));
    std::vector<double> fb(ref.size(), tol);
    if (f->dtype() != torch::kFloat64) {
      const auto own = torch_gradient(f, x, ones);
      for (size_t i = 0; i < ref.size(); ++i) fb[i] = std::max(tol, 4 * grad_error(own[i], want[i]));
    }
    ASSERT_EQ(sum_grad.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_LT(grad_error(sum_grad[i], want[i]), fb[i]) << "sum gradient, parameter " << i;
    }
  }
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
}

/// Each test once per compiled variant, forced (and skipped where this CPU cannot run it).
class Kernels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    for (const IsaKernels* v : compiled_variants()) {
      if (GetParam() != v->name) continue;
      if (!cpu_runs(*v)) GTEST_SKIP() << "this CPU cannot run the " << describe(*v) << " kernels";
      select_variant(v->name);
      return;
    }
    GTEST_SKIP() << "no " << GetParam() << " kernels in this build";
  }
  void TearDown() override { select_variant("auto"); }
};

TEST_P(Kernels, UseTheForcedVariant) {
  auto f = random_flow(2, {5}, torch::kFloat32, 1);
  EXPECT_EQ(std::string(selected_variant().name), GetParam());
  EXPECT_EQ(std::string(KernelFlow(*f).variant().name), GetParam());
}

TEST_P(Kernels, RandomModelsMatchLibTorch) {
  uint64_t seed = 0;
  for (int64_t d : {1, 2, 3, 5, 8}) {
    for (auto hidden : std::vector<std::vector<int64_t>>{{1}, {7, 3}, {16, 16, 5}}) {
      SCOPED_TRACE("D=" + std::to_string(d) + " layers=" + std::to_string(hidden.size()));
      auto f64 = random_flow(d, hidden, torch::kFloat64, ++seed);
      compare(f64, 1e-12);
      compare_gradients(f64, 1e-12);
      auto f32 = random_flow(d, hidden, torch::kFloat32, seed);
      compare(f32, 1e-5);
      compare_gradients(f32, 1e-5);
    }
  }
}

TEST_P(Kernels, FixtureModelsMatchTheReference) {
  for (const std::string name : {"std_D3_L2_H10-5", "std_D2_L3_H5", "std_D1_L1_H1"}) {
    auto state = io::read_weights(test::data_path(name + ".weights-dict.pt"), "");
    auto fx = torch::pickle_load(io::read_file(test::data_path(name + ".fixture.pt"))).toGenericDict();
    auto get = [&](const char* key) { return fx.at(key).toTensor(); };
    auto f = flow::flow_from_state(state, torch::kFloat64);
    KernelFlow k(*f);
    torch::NoGradGuard g;
    EXPECT_LT(test::max_rel_error(k.log_prob(get("x")), f->log_prob(get("x"))), 1e-10) << name;
    auto s = k.sample_and_log_prob_from_noise(get("z_in"));
    EXPECT_LT(test::max_rel_error(s.log_prob, get("log_prob_of_x_from_z_stable64")), 1e-10) << name;
    EXPECT_LT(test::max_rel_error(s.x, get("x_from_z64")), 1e-9) << name;
    auto f32 = flow::flow_from_state(state, torch::kFloat32);
    KernelFlow k32(*f32);
    const auto mag = test::magnitudes(*f, get("x"));
    EXPECT_LT(test::eps32_units(k32.log_prob(get("x")), f->log_prob(get("x")), mag.log_prob), test::kLogProbEps32Units)
        << name;
    compare_gradients(f, 1e-10);
  }
}

TEST_P(Kernels, UpdateFollowsTheParameters) {
  auto f = random_flow(3, {9, 4}, torch::kFloat64, 99);
  KernelFlow k(*f);
  auto x = torch::rand({50, 3}, torch::kFloat64);
  {
    torch::NoGradGuard g;
    for (auto& p : f->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  auto stale = k.log_prob(x);
  k.update();
  torch::NoGradGuard g;
  auto ref = f->log_prob(x);
  EXPECT_GT(test::max_rel_error(stale, ref), 1e-6);  // the packed copy did not follow by itself
  EXPECT_LT(test::max_rel_error(k.log_prob(x), ref), 1e-12);
}

TEST_P(Kernels, ResultsDoNotDependOnTheRowPosition) {
  // A row's result is bit-identical whatever tile (and tile position) it lands in.
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto f = random_flow(4, {12, 6}, dtype, 5);
    KernelFlow k(*f);
    auto x = (0.5 + 3.0 * torch::tanh(torch::randn({97, 4}, torch::kFloat64))).to(dtype);
    auto all = k.log_prob(x);
    auto z = torch::randn({97, 4}, dtype);
    auto s_all = k.sample_and_log_prob_from_noise(z);
    for (int64_t off : {1, 13, 40}) {
      auto part = k.log_prob(x.narrow(0, off, 97 - off));
      EXPECT_TRUE(torch::equal(part, all.narrow(0, off, 97 - off))) << off;
      auto s = k.sample_and_log_prob_from_noise(z.narrow(0, off, 97 - off));
      EXPECT_TRUE(torch::equal(s.x, s_all.x.narrow(0, off, 97 - off))) << off;
      EXPECT_TRUE(torch::equal(s.log_prob, s_all.log_prob.narrow(0, off, 97 - off))) << off;
    }
  }
}

/// Every variant compiled into this build: those this CPU cannot run are reported as skipped.
std::vector<std::string> variant_names() {
  std::vector<std::string> names;
  for (const IsaKernels* v : compiled_variants()) names.emplace_back(v->name);
  return names;
}
INSTANTIATE_TEST_SUITE_P(Variants, Kernels, ::testing::ValuesIn(variant_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gwflow::kernels
