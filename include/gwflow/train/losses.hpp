#pragma once
// The training losses of docs/training.md sec. 3 as per-row terms: the loss is their mean over the rows
// with a finite log_prob (over all ranks).
#include <torch/types.h>

#include "gwflow/config/choices.hpp"

namespace gwflow::train {

using config::is_regression;
using config::Loss;

/// Per-row terms [N]: forward_KL: -lp; ll_mse: (lp - w + C)^2;
/// weighted_ll_mse: ((lp - w + C) sqrt(w - w_min))^2 with w_min the minimum of w over the whole
/// (global) batch. `w` and `constant` are ignored by forward_KL.
torch::Tensor loss_terms(Loss loss, const torch::Tensor& log_prob, const torch::Tensor& w,
                         const torch::Tensor& constant, double w_min);

}  // namespace gwflow::train
