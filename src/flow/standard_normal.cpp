#include "gwflow/flow/standard_normal.hpp"

#include <cmath>

namespace gwflow::flow {

torch::Tensor row_sum(const torch::Tensor& t) {
  auto acc = t.select(1, 0).clone();
  for (int64_t d = 1; d < t.size(1); ++d) acc = acc + t.select(1, d);
  return acc;
}

torch::Tensor standard_normal_log_prob(const torch::Tensor& z) {
  const double log_z = 0.5 * static_cast<double>(z.size(1)) * std::log(2 * M_PI);
  return -0.5 * row_sum(z.square()) - log_z;
}

}  // namespace gwflow::flow
