#pragma once
// The base distribution: standard normal in D dimensions.
#include <torch/types.h>

namespace gwflow::flow {

/// log N(z; 0, I) per row: -0.5 sum_d z_d^2 - 0.5 D log(2 pi). `z` [N, D] -> [N].
torch::Tensor standard_normal_log_prob(const torch::Tensor& z);

}  // namespace gwflow::flow
