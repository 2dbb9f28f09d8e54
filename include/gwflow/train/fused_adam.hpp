#pragma once
// One Adam step over every parameter of a torch::optim::Adam, element by element in one loop per
// tensor instead of LibTorch's six tensor operations per tensor: for the many small tensors of a
// small flow the dispatch of those operations costs more than the arithmetic. The optimizer's own
// state (step, exp_avg, exp_avg_sq) is read and written, so checkpoints and a later
// torch::optim::Adam::step() continue seamlessly. The kokkos training backend uses it.
#include <torch/optim/adam.h>

#include <type_traits>
#include <utility>

namespace gwflow::train {

/// The key type of torch::optim's state map: the TensorImpl address as text in LibTorch 1.13, the
/// address itself (void*) since LibTorch 2.2.
using AdamStateKey = std::decay_t<decltype(std::declval<torch::optim::Adam&>().state())>::key_type;

/// The key under which torch::optim keeps a parameter's state (its TensorImpl address).
AdamStateKey adam_state_key(const torch::Tensor& parameter);

/// torch::optim::Adam::step() for CPU parameters without weight decay or amsgrad (else it calls
/// adam.step()): the same formula, computed in the parameter's dtype (equal up to rounding).
void fused_adam_step(torch::optim::Adam& adam);

}  // namespace gwflow::train
