#pragma once
// A resumable output file for sample/logprob: fixed-size datasets written block by block
// (collective MPI-IO), with the progress recorded inside the file, so that a rerun after a kill
// writes only what is missing and ends with the same datasets.
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "gwflow/io/hdf5.hpp"

namespace gwflow::io {

/// One output dataset: name, shape (first dimension = rows) and type.
struct OutputDataset {
  std::string name;
  std::vector<int64_t> dims;
  torch::Dtype dtype;
};

/// What an output file is a function of. Two runs with equal identities write equal datasets.
struct OutputIdentity {
  std::string text;  ///< e.g. "sample; weights sha256 ...; seed 1; n 1000; dtype float32; ..."
};

/// Progress record: how many input/candidate rows are done (a prefix), how many output rows are
/// written, and free counters (out-of-box, NaN, ...). Stored in the file as raw data.
struct Progress {
  int64_t rows_done = 0;
  int64_t rows_written = 0;
  std::vector<int64_t> counters;
};

/// Lifecycle: `FINAL.partial` is created (or reopened when its identity matches), blocks are
/// written and progress committed after each round, and finish() renames it to FINAL.
/// Datasets are contiguous and allocated at creation; the progress record is a raw-data write
/// after a flush of the data it describes, so a SIGKILL at any instant loses at most the round
/// in flight.
/// Attributes written on a new output file: strings, and lists of strings.
struct OutputAttributes {
  std::vector<std::pair<std::string, std::string>> text;
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
};

class GenerationFile {
 public:
  enum class State { kFresh, kResumed, kComplete };
  static constexpr int kCounters = 4;

  /// Collective. Opens or creates the output for `identity`. An existing FINAL with the same
  /// identity -> State::kComplete (nothing to do); with another identity -> ConfigError unless
  /// `overwrite`. An existing partial file with another identity -> ConfigError unless
  /// `overwrite`; an unreadable partial file is started over (`note` says so).
  /// `attributes` (provenance) are written when the file is created.
  GenerationFile(const std::string& final_path, const std::vector<OutputDataset>& datasets,
                 const OutputIdentity& identity, const OutputAttributes& attributes, bool overwrite,
                 const parallel::Communicator& comm, std::string& note);
  State state() const { return state_; }
  /// The final path (the partial file is io::partial_path of it).
  const std::string& path() const { return final_path_; }
  const Progress& progress() const { return progress_; }
  File& file() { return *file_; }

  /// Collective: flushes the data written so far, then records `p` (and flushes again).
  void commit(const Progress& p);
  /// Collective: closes and renames the partial file to its final name.
  void finish();

 private:
  std::string final_path_, partial_path_;
  const parallel::Communicator& comm_;
  std::unique_ptr<File> file_;
  State state_ = State::kFresh;
  Progress progress_;
};

}  // namespace gwflow::io
