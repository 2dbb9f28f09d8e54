// Validator: the validation loss and metric over the rows with a finite log_prob (rows outside
// the box counted and left out), the scheduler's learning rate and early stopping's best model
// from the validation losses, and its state through a checkpoint.
#include <torch/optim/adam.h>

#include "gwflow/flow/standard_normal.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/gradient_backend.hpp"
#include "gwflow/train/state_archive.hpp"
#include "gwflow/train/validator.hpp"
#include "test_util.hpp"

namespace gwflow::train {
namespace {

struct Scene {
  config::Config cfg;
  TrainingData data;
  parallel::Communicator comm{MPI_COMM_SELF};
  flow::Flow flow{nullptr};
  Scene() {
    cfg.training.validation_batch_size = 4;  // several steps over the 10 rows
    torch::manual_seed(3);
    flow = flow::Flow(flow::Architecture{2, {4, 4}, false}, torch::kFloat64);
    flow->box()->set_box(torch::tensor({-1.0, -1.0}, torch::kFloat64), torch::tensor({1.0, 1.0}, torch::kFloat64));
    data.dim = 2;
    data.validation = torch::rand({10, 2}, torch::kFloat64) * 1.6 - 0.8;
    data.validation[2][0] = 3.0;  // two rows outside the box
    data.validation[7][1] = -1.5;
  }
  /// Moves every parameter, as an optimizer step would.
  void perturb() {
    torch::NoGradGuard no_grad;
    for (auto& p : flow->parameters()) p.add_(0.01);
  }
};

TEST(Validator, LossAndMetricOverTheRowsInsideTheBox) {
  Scene s;
  Validator v(s.cfg, s.data, *s.flow, torch::kCPU, s.comm);
  torch::optim::Adam adam(s.flow->parameters());
  auto g = make_gradient_backend(nullptr, *s.flow, Loss::kForwardKL, adam);
  const Validation r = v.evaluate(*g, torch::Tensor());
  torch::NoGradGuard no_grad;
  auto z = s.flow->forward(s.data.validation).outputs;
  auto lp = s.flow->log_prob(s.data.validation);
  auto ok = torch::isfinite(lp);
  ASSERT_EQ(ok.sum().item<int64_t>(), 8);
  EXPECT_EQ(r.outside_rows, 2);
  // Sums of 8 terms of magnitude |lp|: a few eps64 of the largest.
  const double tol = 16 * 0x1p-52 * lp.masked_select(ok).abs().max().item<double>();
  EXPECT_NEAR(r.loss, -lp.masked_select(ok).mean().item<double>(), tol);
  EXPECT_NEAR(r.valmetric, flow::standard_normal_log_prob(z.index({ok})).mean().item<double>(),
              16 * 0x1p-52 * (1 + std::abs(r.valmetric)));
  EXPECT_TRUE(v.first_outside(r));
  EXPECT_FALSE(v.first_outside(r));  // warn once
}

TEST(Validator, EarlyStoppingKeepsTheBestModelAndTheSchedulerCutsTheRate) {
  Scene s;
  s.cfg.training.early_stopping = true;
  s.cfg.training.patience = 2;
  s.cfg.training.lr_scheduler = config::LrScheduler::kPlateau;
  s.cfg.training.lr_factor = 0.5;
  s.cfg.training.lr_patience = 1;
  s.cfg.training.lr_cooldown = 0;
  Validator v(s.cfg, s.data, *s.flow, torch::kCPU, s.comm);
  double lr = 1.0;
  flow::NamedTensors best;
  const double losses[] = {3.0, 2.0, 2.5, 2.6};
  for (int64_t it = 0; it < 4; ++it) {
    EXPECT_FALSE(v.stopped_early());
    Validation r;
    r.loss = losses[it];
    lr = v.respond(r, it, lr, *s.flow);
    if (it == 1) {
      for (const auto& [name, t] : s.flow->state_dict()) best.emplace_back(name, t.clone());
    }
    s.perturb();
  }
  EXPECT_TRUE(v.stopped_early());  // two validations worse than the best
  EXPECT_EQ(v.best_iteration(), 1);
  EXPECT_TRUE(test::same_state(v.output_state(*s.flow), best));
  EXPECT_FALSE(test::same_state(s.flow->state_dict(), best));
  EXPECT_EQ(lr, 0.5);  // one cut: 2.5 and 2.6 are two validations without improvement, patience 1
}

TEST(Validator, WithoutEarlyStoppingPublishesTheCurrentModel) {
  Scene s;
  Validator v(s.cfg, s.data, *s.flow, torch::kCPU, s.comm);
  Validation r;
  r.loss = 1.0;
  EXPECT_EQ(v.respond(r, 0, 0.25, *s.flow), 0.25);  // no scheduler: the rate is kept
  s.perturb();
  EXPECT_TRUE(test::same_state(v.output_state(*s.flow), s.flow->state_dict()));
  EXPECT_EQ(v.best_iteration(), -1);
}

TEST(Validator, StateSurvivesACheckpoint) {
  Scene s;
  s.cfg.training.early_stopping = true;
  s.cfg.training.patience = 5;
  Validator v(s.cfg, s.data, *s.flow, torch::kCPU, s.comm);
  Validation r;
  r.loss = 1.0;
  r.outside_rows = 3;
  v.respond(r, 4, 1.0, *s.flow);
  v.first_outside(r);
  const auto best = v.output_state(*s.flow);
  s.perturb();
  io::CheckpointContent c;
  auto out = StateArchive::saving(c);
  v.archive(out, *s.flow);

  Validator w(s.cfg, s.data, *s.flow, torch::kCPU, s.comm);
  auto in = StateArchive::loading(c, "c.h5");
  w.archive(in, *s.flow);
  EXPECT_EQ(w.best_iteration(), 4);
  EXPECT_TRUE(test::same_state(w.output_state(*s.flow), best));
  EXPECT_FALSE(w.first_outside(r));  // already warned before the checkpoint
  // The stopper's best carried over: an equal loss is no improvement, a lower one is.
  r.loss = 1.0;
  w.respond(r, 5, 1.0, *s.flow);
  EXPECT_EQ(w.best_iteration(), 4);
  r.loss = 0.5;
  w.respond(r, 6, 1.0, *s.flow);
  EXPECT_EQ(w.best_iteration(), 6);
}

}  // namespace
}  // namespace gwflow::train
