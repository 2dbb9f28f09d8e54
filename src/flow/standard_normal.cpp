#include "gwflow/flow/standard_normal.hpp"

#include <cmath>

namespace gwflow::flow {

torch::Tensor standard_normal_log_prob(const torch::Tensor& z) {
  const double log_z = 0.5 * static_cast<double>(z.size(1)) * std::log(2 * M_PI);
  return -0.5 * z.square().sum(1) - log_z;
}

}  // namespace gwflow::flow
