// Regression training pieces: the losses (values and autograd gradients against the formulas of
// docs/training.md sec. 3), torch.quantile's definition, and the scheduler / early-stopper state machines.
#include "gwflow/examples/regression_data.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/early_stopper.hpp"
#include "gwflow/train/losses.hpp"
#include "gwflow/train/plateau_scheduler.hpp"
#include "gwflow/train/quantile.hpp"
#include "test_util.hpp"

namespace gwflow::train {
namespace {

TEST(Losses, ValuesAndGradientsFollowTheFormulas) {
  torch::manual_seed(0);
  auto lp = torch::randn({7}, torch::kFloat64).requires_grad_(true);
  auto w = torch::randn({7}, torch::kFloat64) + 1;
  auto c = torch::tensor({0.3}, torch::kFloat64).requires_grad_(true);
  const double w_min = w.min().item<double>();
  auto kl = loss_terms(Loss::kForwardKL, lp, w, c, w_min);
  EXPECT_TRUE(torch::allclose(kl, -lp));
  auto mse = loss_terms(Loss::kLlMse, lp, w, c, w_min).mean();
  auto r = (lp - w + c).detach();
  EXPECT_NEAR(mse.item<double>(), r.square().mean().item<double>(), 1e-14);
  auto g = torch::autograd::grad({mse}, {lp, c});
  EXPECT_TRUE(torch::allclose(g[0], 2 * r / 7, 1e-12));
  EXPECT_NEAR(g[1].item<double>(), 2 * r.mean().item<double>(), 1e-12);
  auto wmse = loss_terms(Loss::kWeightedLlMse, lp, w, c, w_min).mean();
  auto a2 = w - w_min;
  EXPECT_NEAR(wmse.item<double>(), (r.square() * a2).mean().item<double>(), 1e-14);
  auto gw = torch::autograd::grad({wmse}, {c})[0];
  EXPECT_NEAR(gw.item<double>(), (2 * r * a2).mean().item<double>(), 1e-12);
  EXPECT_FALSE(config::parse_choice<Loss>("kl"));  // and load_config names training.loss: config_test
}

TEST(Quantile, MatchesTorchQuantileOnOddEvenAndDuplicates) {
  parallel::Communicator comm(MPI_COMM_SELF);
  torch::manual_seed(1);
  std::vector<torch::Tensor> cases = {torch::randn({11}, torch::kFloat64),
                                      torch::randn({10}, torch::kFloat64),
                                      torch::tensor({3.0, 1.0, 3.0, 3.0, 2.0, 1.0}, torch::kFloat64),
                                      torch::tensor({5.0}, torch::kFloat64),
                                      -torch::rand({1000}, torch::kFloat64) * 1e5,
                                      torch::tensor({-0.0, 0.0, -1e-300, 1e-300, -2.5, 7.0}, torch::kFloat64)};
  for (const auto& v : cases) {
    for (double q : {0.0, 0.1, 0.5, 0.9, 0.95, 1.0}) {
      const double expected = torch::quantile(v, q).item<double>();
      EXPECT_EQ(global_quantile(v, q, comm), expected) << "n=" << v.numel() << " q=" << q;
    }
  }
  EXPECT_THROW(global_quantile(torch::tensor({1.0, NAN}, torch::kFloat64), 0.5, comm), std::exception);
}

TEST(PlateauScheduler, StepsLikeTorchReduceLROnPlateau) {
  // Hand-traced against torch.optim.lr_scheduler.ReduceLROnPlateau(mode="min", factor=0.5,
  // patience=2, threshold=0.1, threshold_mode="rel", cooldown=1, min_lr=0.1).
  PlateauScheduler s;
  s.options = {0.5, 2, 0.1, 1, 0.1};
  double lr = 1.0;
  const double losses[] = {10, 9.5, 9.2, 9.1, 9.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0};
  const double expected[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25};
  for (int i = 0; i < 12; ++i) {
    lr = s.step(losses[i], lr);
    EXPECT_DOUBLE_EQ(lr, expected[i]) << "step " << i;
  }
  // bad steps after 8.0 at i=5: i=6,7 bad (2), i=8 bad -> 3 > 2 -> 0.25, cooldown 1: i=9 resets,
  // i=10,11 bad (2) -> no reduction yet
  EXPECT_EQ(s.num_bad_epochs, 2);
  for (int i = 0; i < 20; ++i) lr = s.step(8.0, lr);
  EXPECT_DOUBLE_EQ(lr, 0.1);  // never below min_lr
}

TEST(EarlyStopper, PatienceMinDeltaAndNaN) {
  EarlyStopper e;
  e.patience = 2;
  e.min_delta = 0.5;
  using V = EarlyStopper::Verdict;
  EXPECT_EQ(e.step(5.0), V::kImproved);
  EXPECT_EQ(e.step(5.3), V::kContinue);  // worse, but within min_delta: not counted
  EXPECT_EQ(e.counter, 0);
  EXPECT_EQ(e.step(6.0), V::kContinue);  // counted: 1
  EXPECT_EQ(e.step(4.9), V::kImproved);  // strictly lower: new best, counter reset
  EXPECT_EQ(e.counter, 0);
  EXPECT_EQ(e.step(4.9), V::kContinue);  // equal is not better
  EXPECT_EQ(e.step(6.0), V::kContinue);
  EXPECT_EQ(e.step(7.0), V::kStop);
  EarlyStopper n;
  EXPECT_EQ(n.step(NAN), V::kStop);
}

TEST(RegressionData, TargetIsNormalisedAsDocumented) {
  // Midpoint rule on a fine grid: integral of exp(log f) over the box = exp(log_Z).
  const int n = 120;
  double sum = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) {
        const double x[3] = {3.0 * (i + 0.5) / n, -2 + 4.0 * (j + 0.5) / n, (k + 0.5) / n};
        sum += std::exp(examples::regression_log_f(x));
      }
  const double integral = sum * (3.0 / n) * (4.0 / n) * (1.0 / n);
  EXPECT_NEAR(std::log(integral), examples::regression_log_z(), 1e-4);
}

}  // namespace
}  // namespace gwflow::train
