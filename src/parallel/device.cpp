#include "gwflow/parallel/device.hpp"

#include <torch/cuda.h>

#include "gwflow/errors.hpp"

namespace gwflow::parallel {

torch::Device select_device(config::Device device, const std::string& key, const Communicator& comm) {
  if (device == config::Device::kCpu) return torch::Device(torch::kCPU);
  if (!torch::cuda::is_available()) {
    throw ConfigError(key + " = \"cuda\": this LibTorch has no CUDA support or sees no GPU (use \"cpu\", or build "
                            "gwflow against a CUDA LibTorch: see tools/gpu-check)");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm.rank() % count));
}

}  // namespace gwflow::parallel
