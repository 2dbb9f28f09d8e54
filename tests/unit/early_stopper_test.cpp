// EarlyStopper: mbank's early_stopper (patience, min_delta, NaN stops).
#include "gwflow/train/early_stopper.hpp"
#include "test_files.hpp"

namespace gwflow::train {
namespace {

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

}  // namespace
}  // namespace gwflow::train
