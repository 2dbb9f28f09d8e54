// fused_adam_step against torch::optim::Adam::step(): the same trajectory over many steps (float64
// to rounding, float32 to float32 rounding), and the shared state: steps of either kind can follow
// each other (a checkpoint written by one continues with the other).
#include <torch/optim/adam.h>

#include "gwflow/train/fused_adam.hpp"
#include "test_util.hpp"

namespace gwflow::train {
namespace {

std::vector<torch::Tensor> make_params(torch::Dtype dtype) {
  torch::manual_seed(3);
  return {torch::randn({7, 5}, dtype).requires_grad_(), torch::randn({5}, dtype).requires_grad_(),
          torch::randn({1}, dtype).requires_grad_()};
}

void set_grads(std::vector<torch::Tensor>& ps, int step) {
  for (size_t i = 0; i < ps.size(); ++i) {
    torch::manual_seed(100 * step + i);
    ps[i].mutable_grad() = torch::randn_like(ps[i]) * (1.0 + step);
  }
}

void run(torch::Dtype dtype, double tol) {
  auto a = make_params(dtype), b = make_params(dtype);
  torch::optim::Adam ta(a, torch::optim::AdamOptions(1e-2));
  torch::optim::Adam fb(b, torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 50; ++step) {
    set_grads(a, step);
    set_grads(b, step);
    ta.step();
    if (step % 10 == 7) {
      fb.step();  // LibTorch's own step on the shared state
    } else {
      fused_adam_step(fb);
    }
  }
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LT(test::max_rel_error(b[i].detach(), a[i].detach()), tol) << "parameter " << i;
    EXPECT_FALSE(torch::equal(a[i].detach(), make_params(dtype)[i].detach()));  // it moved
  }
  for (const auto& [key, st] : fb.state()) {
    EXPECT_EQ(static_cast<const torch::optim::AdamParamState&>(*st).step(), 50);
  }
}

TEST(FusedAdam, FollowsLibTorchAdamFloat64) { run(torch::kFloat64, 1e-12); }
TEST(FusedAdam, FollowsLibTorchAdamFloat32) { run(torch::kFloat32, 1e-5); }

TEST(FusedAdam, WeightDecayFallsBackToLibTorch) {
  auto a = make_params(torch::kFloat64), b = make_params(torch::kFloat64);
  torch::optim::Adam ta(a, torch::optim::AdamOptions(1e-2).weight_decay(0.1));
  torch::optim::Adam fb(b, torch::optim::AdamOptions(1e-2).weight_decay(0.1));
  set_grads(a, 0);
  set_grads(b, 0);
  ta.step();
  fused_adam_step(fb);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].detach(), b[i].detach()));
}

}  // namespace
}  // namespace gwflow::train
