// train/history: history.h5 round trip.
#include "gwflow/train/history.hpp"
#include "test_files.hpp"

namespace gwflow {
namespace {

TEST(History, SaveAndLoad) {
  const auto dir = test::scratch_dir("hist");
  train::History h;
  h.validation_step = 20;
  h.train_loss = {3, 2, 1};
  h.validation_loss = {2.5};
  h.valmetric_value = {-2.8};
  h.validation_iteration = {0};
  h.valmetric_mean = -2.83;
  h.valmetric_std = 0.01;
  train::save_history(h, dir + "/h.h5");
  auto back = train::load_history(dir + "/h.h5");
  EXPECT_EQ(back.train_loss, h.train_loss);
  EXPECT_EQ(back.validation_step, 20);
  EXPECT_EQ(back.validation_metric, h.validation_metric);
  EXPECT_DOUBLE_EQ(back.valmetric_mean, -2.83);
}

}  // namespace
}  // namespace gwflow
