// Determinism at 2 threads: the fused kernels (Kokkos) and the LibTorch reference give the same
// bits when the same evaluation is repeated with 2 threads: densities, noise, samples and every
// parameter gradient (the kernels promise this for a given thread count: fixed tile partitioning
// and reduction order). The test sets LibTorch to 2 threads; the ctest entry unit_tests_2_threads
// runs it with OMP_NUM_THREADS=2, which also gives a threaded Kokkos backend (OpenMP) 2 threads.
// Debian's Kokkos is Serial-only: there the kernels run on one thread and the test prints
// "Kokkos concurrency 1".
#include <Kokkos_Core.hpp>
#include <torch/utils.h>

#include "gwflow/flow/flow.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "test_util.hpp"

namespace gwflow::kernels {
namespace {

class TwoThreads : public ::testing::TestWithParam<torch::Dtype> {
 protected:
  void SetUp() override {
    previous_ = torch::get_num_threads();
    torch::set_num_threads(2);
    std::cout << "Kokkos concurrency " << Kokkos::DefaultExecutionSpace().concurrency() << ", LibTorch threads "
              << torch::get_num_threads() << std::endl;
  }
  void TearDown() override { torch::set_num_threads(previous_); }
  int previous_ = 1;
};

flow::Flow model(torch::Dtype dtype) {
  torch::manual_seed(11);
  flow::Flow f(flow::Architecture{4, {24, 24, 24}, false}, dtype);
  torch::NoGradGuard g;
  for (auto& p : f->named_parameters()) {
    if (p.key().find("_weight") == std::string::npos) p.value().add_(0.2 * torch::randn_like(p.value()));
  }
  f->box()->set_box(torch::full({4}, -3.0), torch::full({4}, 4.0));
  return f;
}

TEST_P(TwoThreads, KernelsRepeatBitForBit) {
  auto f = model(GetParam());
  KernelFlow k(*f);
  // Enough rows for many tiles on each thread.
  auto x = (0.5 + 3.2 * torch::tanh(torch::randn({20000, 4}, torch::kFloat64))).to(GetParam());
  auto z = torch::randn({20000, 4}, GetParam());
  torch::Tensor z1, z2;
  const auto lp1 = k.log_prob(x, &z1), lp2 = k.log_prob(x, &z2);
  EXPECT_TRUE(torch::equal(lp1, lp2));
  EXPECT_TRUE(torch::equal(z1, z2));
  const auto s1 = k.sample_and_log_prob_from_noise(z), s2 = k.sample_and_log_prob_from_noise(z);
  EXPECT_TRUE(torch::equal(s1.x, s2.x));
  EXPECT_TRUE(torch::equal(s1.log_prob, s2.log_prob));
  const auto g1 = k.log_prob_and_sum_gradient(x).flat.clone();
  const auto g2 = k.log_prob_and_sum_gradient(x).flat.clone();
  EXPECT_TRUE(torch::equal(g1, g2));
  EXPECT_GT(g1.abs().sum().item<double>(), 0);
}

TEST_P(TwoThreads, LibTorchRepeatsBitForBit) {
  auto f = model(GetParam());
  auto x = (0.5 + 3.2 * torch::tanh(torch::randn({20000, 4}, torch::kFloat64))).to(GetParam());
  std::vector<std::vector<torch::Tensor>> grads;
  std::vector<torch::Tensor> lps;
  for (int run = 0; run < 2; ++run) {
    for (auto& p : f->parameters()) p.mutable_grad() = torch::Tensor();
    auto lp = f->log_prob(x);
    lp.sum().backward();
    lps.push_back(lp.detach());
    grads.emplace_back();
    for (auto& p : f->parameters()) grads.back().push_back(p.grad().clone());
  }
  EXPECT_TRUE(torch::equal(lps[0], lps[1]));
  for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_TRUE(torch::equal(grads[0][i], grads[1][i])) << "parameter " << i;
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TwoThreads, ::testing::Values(torch::kFloat32, torch::kFloat64),
                         [](const ::testing::TestParamInfo<torch::Dtype>& info) {
                           return info.param == torch::kFloat32 ? std::string("float32") : std::string("float64");
                         });

}  // namespace
}  // namespace gwflow::kernels
