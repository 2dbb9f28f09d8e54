#pragma once
// Helpers shared by the sample and logprob commands.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gwflow/config/config.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/io/generation_file.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/io/output_lock.hpp"
#include "gwflow/parallel/communicator.hpp"

namespace gwflow::kernels {
class KernelFlow;
}

namespace gwflow::app {

class Log;

/// The flow a sample or logprob run evaluates: on its device, with the backend that evaluates it.
struct GenerationModel {
  flow::Flow flow{nullptr};
  std::string sha256;  ///< of the weights file
  torch::Device device{torch::kCPU};
  std::unique_ptr<kernels::KernelFlow> kernel;  ///< the fused kernels; null: LibTorch
  std::string backend;                          ///< the backend used ("kokkos" or "torch")

  GenerationModel();
  GenerationModel(GenerationModel&&) noexcept;
  ~GenerationModel();
};

/// Reads `section`.weights ("sample" or "logprob") in `section`.dtype, selects `section`.device
/// and chooses `section`.backend (warning when it falls back). Every error names its key; none
/// leaves an output behind. Collective (the device check).
GenerationModel load_generation_model(const std::string& section, const std::string& weights, config::Dtype dtype,
                                      config::Device device, config::Backend backend, const Log& log,
                                      const parallel::Communicator& comm);

/// An output of sample or logprob, claimed for this run: its folder made, its lock held to the
/// end of the run, the file created, resumed or found complete (GenerationFile).
struct ClaimedOutput {
  std::unique_ptr<io::OutputLock> lock;
  std::unique_ptr<io::GenerationFile> file;
};
/// Collective. Notes (a stale lock taken over, a partial file restarted) go to `log`'s warnings.
ClaimedOutput claim_output(const std::string& path, const std::vector<io::OutputDataset>& datasets,
                           const io::OutputIdentity& identity, const io::OutputAttributes& attributes, bool overwrite,
                           const Log& log, const parallel::Communicator& comm);

/// Reads a weights file into a flow of `dtype`; errors name the config
/// `key` the path came from and the file ("sample.weights = w.zip: ...").
flow::Flow load_flow(const std::string& weights_path, const std::string& key, config::Dtype dtype);
/// The same for a state already read from `weights_path` (named in errors with `key`).
flow::Flow load_flow(const flow::NamedTensors& state, const std::string& weights_path, const std::string& key,
                     config::Dtype dtype);

/// What a sample or logprob file says about its columns: `columns` (data.columns; ConfigError
/// naming the weights file when it does not have D names) and `variable_format` (mbank's, carried
/// from the root attribute of `source`, e.g. a file made by import-dataset; skipped when `source`
/// is null or has none). Adds them to `out`.
void add_column_attributes(io::OutputAttributes& out, const config::Config& cfg, int64_t dim,
                           const std::string& weights_path, const io::File* source);

/// The provenance attributes of docs/files.md sec. 6.2 (weights, its SHA-256, seed, dtype, gwflow
/// version, resolved config) as (name, value) pairs.
std::vector<std::pair<std::string, std::string>> provenance(const std::string& weights_path,
                                                            const std::string& weights_sha256, int64_t seed,
                                                            config::Dtype dtype, const config::Config& config);

/// Rows laid out for LibTorch so that its results for a row do not depend on the block the row
/// came in (single-threaded ranks): `rows` [count, ...], rows first_row .. first_row + count - 1
/// of a longer sequence, placed at row `lead` = first_row mod 64 of a zero-padded tensor whose row
/// count is a multiple of 64. Every real row then sits at the same position modulo 64 rows, hence
/// at the same offset from the vector boundaries, whatever the block size and rank count, and never
/// in a scalar tail: LibTorch's elementwise kernels compute tails, and (from 2.x) some unaligned
/// positions, by code whose last bit can differ from the vector path's.
struct PaddedRows {
  torch::Tensor rows;  ///< [padded, ...]
  int64_t lead;        ///< the first real row
};
PaddedRows pad_rows(const torch::Tensor& rows, int64_t first_row);

/// The flow's log density at the points `x` [count, D] (host tensor, any float dtype; computed
/// in the flow's dtype) through the fused kernels when `kernel` is given, else LibTorch on
/// `device`; -inf on or outside the flow's box. With `z`, also the noise (NaN outside the box).
/// The one definition that sample and logprob both use, so that logprob on a sample file
/// reproduces its /log_prob exactly (same backend and dtype).
/// `first_row` is the global index of x's first row (see pad_rows).
torch::Tensor log_prob_at(flow::FlowImpl& flow, kernels::KernelFlow* kernel, const torch::Tensor& x, int64_t first_row,
                          const torch::Device& device, torch::Tensor* z = nullptr);

}  // namespace gwflow::app
