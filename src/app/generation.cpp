#include "gwflow/app/generation.hpp"

#include "gwflow/errors.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/version.hpp"

namespace gwflow::app {

flow::Flow load_flow(const std::string& weights_path, const std::string& dtype) {
  const auto state = io::read_weights(weights_path);
  try {
    return flow::flow_from_state(state, dtype == "float64" ? torch::kFloat64 : torch::kFloat32);
  } catch (const DomainError& e) {
    throw IoError(weights_path + ": " + e.what());
  }
}

void write_provenance(io::File& f, const std::string& weights_path, const std::string& weights_sha256,
                      int64_t seed, const std::string& dtype, const config::Config& config) {
  f.write_attribute("/", "weights", weights_path);
  f.write_attribute("/", "weights_sha256", weights_sha256);
  f.write_attribute("/", "seed", seed);
  f.write_attribute("/", "dtype", dtype);
  f.write_attribute("/", "gwflow_version", std::string(kVersion));
  f.write_attribute("/", "config", config::to_toml(config));
}

}  // namespace gwflow::app
