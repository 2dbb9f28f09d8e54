#pragma once
// Helpers shared by the sample and logprob commands.
#include <string>

#include "gwflow/config/config.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/io/hdf5.hpp"

namespace gwflow::app {

/// Reads a weights file into a flow of `dtype` ("float32" | "float64"); errors name the file.
flow::Flow load_flow(const std::string& weights_path, const std::string& dtype);

/// Collective on parallel files: the provenance attributes of INTERFACE.md (weights SHA-256,
/// seed, dtype, gwflow version, resolved config).
void write_provenance(io::File& file, const std::string& weights_path, const std::string& weights_sha256,
                      int64_t seed, const std::string& dtype, const config::Config& config);

}  // namespace gwflow::app
