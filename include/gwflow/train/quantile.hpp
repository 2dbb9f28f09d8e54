#pragma once
// Exact quantiles of a data set distributed over ranks (torch.quantile's linear interpolation).
#include <torch/types.h>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::train {

/// The q-quantile (0 <= q <= 1) of the union of every rank's `local` values [n_r], as
/// torch.quantile(all, q) computes it: position q (N - 1) between the sorted values, linear
/// interpolation. Exact: the two order statistics are found by a bisection over the bit
/// patterns of doubles with one allreduce per step (O(64) collectives, no gathering). Collective.
/// Throws DomainError when there are no values or some are not finite.
double global_quantile(const torch::Tensor& local, double q, const parallel::Communicator& comm);

}  // namespace gwflow::train
