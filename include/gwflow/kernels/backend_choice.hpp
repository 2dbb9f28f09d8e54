#pragma once
// Which backend computes a command's densities (and gradients): one rule for train, sample and
// logprob. The fused kernels when asked for and they can run (a CPU device, a model within the
// kernels' limits), else LibTorch, with the reason.
#include <memory>
#include <string>

#include <torch/types.h>

#include "gwflow/config/choices.hpp"
#include "gwflow/kernels/kernel_flow.hpp"

namespace gwflow::kernels {

struct BackendChoice {
  config::Backend used = config::Backend::kTorch;
  std::unique_ptr<KernelFlow> kernel;  ///< set when `used` is kKokkos
  std::string note;                    ///< why `used` differs from the request (empty otherwise)
};

/// `key` names the config key ("sample.backend"), `command` the command in the note ("sample").
BackendChoice choose_backend(config::Backend requested, const flow::FlowImpl& flow, const torch::Device& device,
                             const std::string& key, const std::string& command);

}  // namespace gwflow::kernels
