#pragma once
// Gradient reducers: sum the gradients of all ranks with one allreduce of one flat buffer, over
// MPI (host memory; CUDA tensors are staged through the host) or NCCL (device memory).
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "gwflow/config/choices.hpp"
#include "gwflow/parallel/communicator.hpp"

namespace gwflow::parallel {

/// Sums `.grad()` of every parameter over the ranks (float32 or float64). Parameters without a
/// gradient contribute zeros. The flat buffer is kept between calls (no reallocation).
class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  /// Collective: after it, every rank holds the same summed gradients.
  virtual void allreduce() = 0;
  virtual std::string name() const = 0;
};

/// MPI_Allreduce on host memory (the CPU path).
class MpiGradientReducer : public GradientReducer {
 public:
  MpiGradientReducer(const Communicator& comm, std::vector<torch::Tensor> params);
  void allreduce() override;
  std::string name() const override { return "mpi"; }

 private:
  const Communicator& comm_;
  std::vector<torch::Tensor> params_;
  torch::Tensor flat_;
};

/// True when gwflow was built with GWFLOW_ENABLE_NCCL.
bool nccl_built();

/// ncclAllReduce in place on the device, the NCCL communicator bootstrapped over MPI (rank 0's
/// unique id broadcast). Needs CUDA tensors and a build with GWFLOW_ENABLE_NCCL; otherwise the
/// constructor throws ConfigError saying which is missing. Collective construction.
class NcclGradientReducer : public GradientReducer {
 public:
  NcclGradientReducer(const Communicator& comm, std::vector<torch::Tensor> params);
  ~NcclGradientReducer() override;
  void allreduce() override;
  std::string name() const override { return "nccl"; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::vector<torch::Tensor> params_;
  torch::Tensor flat_;
};

/// The reducer to use (kMpi or kNccl): `requested` kAuto takes NCCL when the parameters live on a
/// CUDA device and NCCL is built, else MPI. Throws ConfigError for kNccl without NCCL or without
/// CUDA tensors.
config::Reducer choose_reducer(config::Reducer requested, bool cuda_tensors, bool nccl_available);

/// Collective: the reducer chosen by choose_reducer for `params`.
std::unique_ptr<GradientReducer> make_gradient_reducer(config::Reducer requested, const Communicator& comm,
                                                       std::vector<torch::Tensor> params);

}  // namespace gwflow::parallel
