// PlateauScheduler: torch's ReduceLROnPlateau state machine.
#include "gwflow/train/plateau_scheduler.hpp"
#include "test_files.hpp"

namespace gwflow::train {
namespace {

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

}  // namespace
}  // namespace gwflow::train
