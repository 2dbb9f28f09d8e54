#pragma once
// The compute device of a command: "cpu" or "cuda" (the latter needs a CUDA-enabled LibTorch
// and a visible GPU; with several ranks per node, rank r uses GPU r mod count).
#include <string>

#include <torch/types.h>

#include "gwflow/config/choices.hpp"
#include "gwflow/parallel/communicator.hpp"

namespace gwflow::parallel {

/// The torch device for `device`; ConfigError naming `key` when "cuda" is asked for and this
/// LibTorch has no CUDA support or no GPU is visible.
torch::Device select_device(config::Device device, const std::string& key, const Communicator& comm);

}  // namespace gwflow::parallel
