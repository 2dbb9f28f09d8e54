// The fused Kokkos kernels against the LibTorch model (the reference): every fixture model and
// random models (D = 1..8, several widths and layer counts, float64 and float32): log_prob, z,
// samples and their log_prob; 1e-12 relative in float64 (1e-10 on the fixtures' extreme weights),
// 1e-5 in float32.
#include <torch/serialize.h>

#include "gwflow/flow/flow.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/weights.hpp"
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
  EXPECT_LT(test::max_rel_error(lpk, f->log_prob(x)), tol) << "log_prob";
  EXPECT_LT(test::max_rel_error(zk, f->transform_to_noise(x)), tol) << "z";
  EXPECT_EQ(lpk[5].item<double>(), -INFINITY);
  // The inverse (sampling) amplifies rounding errors by the flow's conditioning (divisions by
  // scales down to 1e-3, D sequential passes): compare against LibTorch in float64 and require the
  // kernel to be at least as accurate as LibTorch at the same precision (and within `tol`
  // wherever LibTorch itself is).
  auto z = torch::randn({300, d}, f->dtype());
  auto sk = k.sample_and_log_prob_from_noise(z);
  auto st = f->sample_and_log_prob_from_noise(z);
  auto ref = as_float64(f)->sample_and_log_prob_from_noise(z.to(torch::kFloat64));
  const double torch_x = test::max_rel_error(st.x, ref.x), torch_lp = test::max_rel_error(st.log_prob, ref.log_prob);
  // float64: LibTorch is the reference itself, so allow 10x the forward tolerance for the
  // amplification through the D sequential passes of each layer.
  const double stol = f->dtype() == torch::kFloat64 ? 10 * tol : tol;
  EXPECT_LT(test::max_rel_error(sk.x, ref.x), std::max(stol, 8 * torch_x)) << "samples (LibTorch: " << torch_x << ")";
  EXPECT_LT(test::max_rel_error(sk.log_prob, ref.log_prob), std::max(stol, 8 * torch_lp))
      << "sample log_prob (LibTorch: " << torch_lp << ")";
}

TEST(Kernels, RandomModelsMatchLibTorch) {
  uint64_t seed = 0;
  for (int64_t d : {1, 2, 3, 5, 8}) {
    for (auto hidden : std::vector<std::vector<int64_t>>{{1}, {7, 3}, {16, 16, 5}}) {
      SCOPED_TRACE("D=" + std::to_string(d) + " layers=" + std::to_string(hidden.size()));
      auto f64 = random_flow(d, hidden, torch::kFloat64, ++seed);
      compare(f64, 1e-12);
      auto f32 = random_flow(d, hidden, torch::kFloat32, seed);
      compare(f32, 1e-5);
    }
  }
}

TEST(Kernels, FixtureModelsMatchTheReference) {
  for (const std::string name : {"std_D3_L2_H10-5", "std_D2_L3_H5", "std_D1_L1_H1"}) {
    auto state = io::read_weights(test::data_path(name + ".weights-dict.pt"));
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
    EXPECT_LT(test::max_rel_error(k32.log_prob(get("x")), get("log_prob32")), 1e-5) << name;
  }
}

}  // namespace
}  // namespace gwflow::kernels
