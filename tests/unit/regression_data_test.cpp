// The regression example's target density (examples/regression_data): normalised as documented.
#include "gwflow/examples/regression_data.hpp"
#include "test_files.hpp"

namespace gwflow::train {
namespace {

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
