// The regression and forward-KL loss terms: values and autograd gradients against the formulas of
// docs/training.md sec. 3.
#include "gwflow/train/losses.hpp"
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

}  // namespace
}  // namespace gwflow::train
