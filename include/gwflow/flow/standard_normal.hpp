#pragma once
// The base distribution: standard normal in D dimensions.
#include <torch/types.h>

namespace gwflow::flow {

/// Sum over the columns of `t` [N, D] -> [N], adding column 0, 1, ... in order. Unlike
/// Tensor::sum(1), whose vectorisation depends on N, each row's result is the same whatever the
/// batch it is computed in: sample and logprob files do not depend on block sizes.
torch::Tensor row_sum(const torch::Tensor& t);

/// log N(z; 0, I) per row: -0.5 sum_d z_d^2 - 0.5 D log(2 pi). `z` [N, D] -> [N].
torch::Tensor standard_normal_log_prob(const torch::Tensor& z);

}  // namespace gwflow::flow
