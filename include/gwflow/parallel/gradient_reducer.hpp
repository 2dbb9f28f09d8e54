#pragma once
// GradientReducer: sums the gradients of all ranks with one allreduce of one flat buffer.
#include <vector>

#include <torch/types.h>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::parallel {

/// Sums `.grad()` of every parameter over the ranks of `comm` (float32 or float64). Parameters
/// without a gradient contribute zeros. The flat buffer is kept between calls (no reallocation).
class GradientReducer {
 public:
  GradientReducer(const Communicator& comm, std::vector<torch::Tensor> params);
  /// Collective: after it, every rank holds the same summed gradients.
  void allreduce();

 private:
  const Communicator& comm_;
  std::vector<torch::Tensor> params_;
  torch::Tensor flat_;
};

}  // namespace gwflow::parallel
