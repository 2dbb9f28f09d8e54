#include "gwflow/kernels/backend_choice.hpp"

#include "gwflow/errors.hpp"

namespace gwflow::kernels {

BackendChoice choose_backend(config::Backend requested, const flow::FlowImpl& flow, const torch::Device& device,
                             const std::string& key, const std::string& command) {
  BackendChoice choice;
  if (requested == config::Backend::kTorch) return choice;
  if (!device.is_cpu()) {
    choice.note = key + " = \"kokkos\": the fused kernels of this build run on the CPU; " + command +
                  " on cuda uses the LibTorch backend";
    return choice;
  }
  try {
    choice.kernel = std::make_unique<KernelFlow>(flow);
    choice.used = config::Backend::kKokkos;
  } catch (const DomainError& e) {  // past the kernels' limits (D > 32, a width > 256)
    choice.note = std::string(e.what()) + "; " + command + " uses the LibTorch backend";
  }
  return choice;
}

}  // namespace gwflow::kernels
