#include "gwflow/parallel/device.hpp"

#include <torch/cuda.h>

#include "gwflow/errors.hpp"

namespace gwflow::parallel {

torch::Device select_device(const std::string& name, const std::string& key, const Communicator& comm) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name != "cuda") throw ConfigError(key + " = \"" + name + "\": expected \"cpu\" or \"cuda\"");
  if (!torch::cuda::is_available()) {
    throw ConfigError(key + " = \"cuda\": this LibTorch has no CUDA support or sees no GPU (use \"cpu\", or build "
                            "gwflow against a CUDA LibTorch: see tools/gpu-check)");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm.rank() % count));
}

}  // namespace gwflow::parallel
