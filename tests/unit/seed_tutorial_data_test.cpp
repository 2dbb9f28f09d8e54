// examples/seed_tutorial_data: the rows' distributions.
#include "gwflow/examples/seed_tutorial_data.hpp"
#include "test_util.hpp"

namespace gwflow {
namespace {

TEST(SeedTutorialData, RowsAreExponentialAndNormal) {
  double m0 = 0, m1 = 0, v1 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double r[2];
    examples::seed_tutorial_row(3, i, r);
    ASSERT_GT(r[0], 0);
    m0 += r[0];
    m1 += r[1];
    v1 += r[1] * r[1];
  }
  EXPECT_NEAR(m0 / n, 1.0, 0.02);
  EXPECT_NEAR(m1 / n, 0.0, 0.02);
  EXPECT_NEAR(v1 / n, 1.0, 0.02);
}

}  // namespace
}  // namespace gwflow
