#include "gwflow/app/generation.hpp"

#include <chrono>
#include <cstdio>

#include <filesystem>

#include "gwflow/app/log.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/flow/standard_normal.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/sha256.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/kernels/backend_choice.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/parallel/device.hpp"
#include "gwflow/version.hpp"

namespace gwflow::app {

GenerationModel::GenerationModel() = default;
GenerationModel::GenerationModel(GenerationModel&&) noexcept = default;
GenerationModel::~GenerationModel() = default;

GenerationModel load_generation_model(const std::string& section, const std::string& weights, config::Dtype dtype,
                                      config::Device device, config::Backend backend, const Log& log,
                                      const parallel::Communicator& comm) {
  GenerationModel m;
  m.flow = load_flow(weights, section + ".weights", dtype);
  m.sha256 = io::sha256_file(weights);
  m.device = parallel::select_device(device, section + ".device", comm);
  if (m.device.is_cuda()) m.flow->to(m.device);  // the points come back to the host, where boxes are compared
  auto choice = kernels::choose_backend(backend, *m.flow, m.device, section + ".backend", section);
  if (!choice.note.empty()) log.warn(choice.note);
  m.kernel = std::move(choice.kernel);
  m.backend = config::name_of(choice.used);
  return m;
}

ClaimedOutput claim_output(const std::string& path, const std::vector<io::OutputDataset>& datasets,
                           const io::OutputIdentity& identity, const io::OutputAttributes& attributes, bool overwrite,
                           const Log& log, const parallel::Communicator& comm) {
  io::make_directories(std::filesystem::path(path).parent_path().string(), comm);
  ClaimedOutput out;
  std::string note;
  out.lock = std::make_unique<io::OutputLock>(path, io::OutputLock::beside(path), comm, note);
  if (!note.empty()) log.warn(note);
  note.clear();
  out.file = std::make_unique<io::GenerationFile>(path, datasets, identity, attributes, overwrite, comm, note);
  if (!note.empty()) log.warn(note);
  return out;
}

flow::Flow load_flow(const std::string& weights_path, const std::string& key, config::Dtype dtype) {
  return load_flow(io::read_weights(weights_path, key), weights_path, key, dtype);
}

flow::Flow load_flow(const flow::NamedTensors& state, const std::string& weights_path, const std::string& key,
                     config::Dtype dtype) {
  try {
    return flow::flow_from_state(state, dtype == config::Dtype::kFloat64 ? torch::kFloat64 : torch::kFloat32);
  } catch (const DomainError& e) {
    throw IoError(io::weights_label(weights_path, key) + ": " + e.what());
  }
}

void add_column_attributes(io::OutputAttributes& out, const config::Config& cfg, int64_t dim,
                           const std::string& weights_path, const io::File* source) {
  const auto& columns = cfg.data.columns;
  if (!columns.empty()) {
    if (static_cast<int64_t>(columns.size()) != dim) {
      throw ConfigError("data.columns has " + std::to_string(columns.size()) + " names but the flow in " +
                        weights_path + " has D = " + std::to_string(dim));
    }
    out.lists.emplace_back("columns", columns);
  }
  if (source && source->has_attribute("/", "variable_format")) {
    out.text.emplace_back("variable_format", source->read_string_attribute("/", "variable_format"));
  }
}

std::vector<std::pair<std::string, std::string>> provenance(const std::string& weights_path,
                                                            const std::string& weights_sha256, int64_t seed,
                                                            config::Dtype dtype, const config::Config& config) {
  return {{"weights", weights_path},
          {"weights_sha256", weights_sha256},
          {"seed", std::to_string(seed)},
          {"dtype", std::string(config::name_of(dtype))},
          {"gwflow_version", std::string(kVersion)},
          {"config", config::to_toml(config)}};
}

torch::Tensor log_prob_at(flow::FlowImpl& flow, kernels::KernelFlow* kernel, const torch::Tensor& x, int64_t first_row,
                          const torch::Device& device, torch::Tensor* z) {
  if (kernel) return kernel->log_prob(x, z);  // per-row code: no padding
  const int64_t count = x.size(0);
  const PaddedRows in = pad_rows(x.to(flow.dtype()), first_row);
  auto r = flow.forward(in.rows.to(device));
  // Every operation on the padded rows: the real ones stay where pad_rows put them.
  // The noise is NaN where logabsdet is -inf (outside the box) or NaN: keep those as they are.
  auto lp =
      torch::where(torch::isfinite(r.logabsdet), flow::standard_normal_log_prob(r.outputs) + r.logabsdet, r.logabsdet);
  if (z) *z = r.outputs.narrow(0, in.lead, count).cpu();
  return lp.narrow(0, in.lead, count).cpu();
}

PaddedRows pad_rows(const torch::Tensor& rows, int64_t first_row) {
  const int64_t n = rows.size(0), lead = first_row % 64, padded = (lead + n + 63) / 64 * 64;
  if (padded == n) return {rows, 0};  // already in place
  auto sizes = rows.sizes().vec();
  sizes[0] = padded;
  auto out = torch::zeros(sizes, rows.options());
  out.narrow(0, lead, n).copy_(rows);
  return {out, lead};
}

}  // namespace gwflow::app
