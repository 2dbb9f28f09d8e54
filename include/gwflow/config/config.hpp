#pragma once
// Typed, validated configuration (INTERFACE.md "Config"): one struct per section, defaults here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gwflow::config {

/// A dataset inside an HDF5 file, written "FILE.h5:/path/in/file".
struct DatasetRef {
  std::string file;
  std::string path;
  bool empty() const { return file.empty(); }
  std::string str() const { return file + ":" + path; }
};

/// Parses "FILE.h5:/path" (the path must start with '/'); `what` names the key in errors.
DatasetRef parse_dataset_ref(const std::string& text, const std::string& what);

/// A box [[lo_1, ..., lo_D], [hi_1, ..., hi_D]].
struct Box {
  std::vector<double> low, high;
};

struct DataConfig {
  DatasetRef train;               ///< [N, D] points
  DatasetRef weights;             ///< [N] target log density (regression losses)
  DatasetRef validation;          ///< optional; else the last validation_fraction of train
  DatasetRef validation_weights;  ///< target log density of data.validation (regression losses)
  double validation_fraction = 0.1;
  std::optional<Box> boundaries;  ///< optional box (the 1 % margin is added)
  /// Optional names of the D coordinates, written as the `columns` attribute of sample and
  /// logprob files (and checked against D there and in train).
  std::vector<std::string> columns;
};

struct ModelConfig {
  int64_t n_layers = 3;
  std::vector<int64_t> hidden_features{5};  ///< one per layer (an int in the file is repeated)
  bool constant = false;
  std::string dtype = "float32";  ///< "float32" | "float64"
  std::string init;               ///< optional weights file to start from (fine-tuning)
};

struct TrainingConfig {
  std::string loss = "forward_KL";  ///< "forward_KL" | "ll_mse" | "weighted_ll_mse"
  int64_t iterations = 1000;        ///< optimizer steps (mbank's N_epochs)
  int64_t batch_size = 10000;       ///< global, across all ranks; 0 = whole training set
  double learning_rate = 1e-3;
  int64_t validation_step = 20;
  int64_t seed = 0;
  std::string backend = "kokkos";     ///< "kokkos" (fused kernels) | "torch" (the reference path)
  int64_t checkpoint_every = 100;     ///< 0 = only when stopping or finishing
  std::string restart = "off";        ///< "off": fresh unless --restart; "auto": continue if possible
  std::string device = "cpu";         ///< "cpu" | "cuda" (needs a CUDA-enabled LibTorch)
  std::string reducer = "auto";       ///< gradient allreduce: "auto" | "mpi" | "nccl"
  int64_t threads = 0;                ///< LibTorch threads per rank; 0 = automatic
  std::string lr_scheduler = "none";  ///< "none" | "plateau" (reduce on plateau, at validations)
  double lr_factor = 0.5;
  int64_t lr_patience = 4;
  double lr_threshold = 0.02;  ///< relative
  int64_t lr_cooldown = 0;
  double min_lr = 0;
  bool early_stopping = false;  ///< stop after `patience` bad validations, keep the best model
  int64_t patience = 10;
  double min_delta = 0;
};

struct OutputConfig {
  std::string dir = "runs/seed_tutorial";
};

struct SampleConfig {
  std::string weights = "runs/seed_tutorial/weights.zip";
  int64_t n = 1000000;
  int64_t seed = 1;
  std::string out = "runs/seed_tutorial/samples.h5";
  std::optional<Box> boundaries;
  std::string dtype = "float32";
  std::string backend = "kokkos";  ///< "kokkos" (fused kernels) | "torch" (the reference path)
  std::string device = "cpu";      ///< "cpu" | "cuda" (the LibTorch backend on the GPU)
  int64_t block_size = 65536;      ///< rows per rank per step (bounds memory)
  int64_t max_candidates = 0;      ///< with boundaries: give up after this many (0 = 1000 n + 10^6)
};

struct LogprobConfig {
  std::string weights = "runs/seed_tutorial/weights.zip";
  DatasetRef input;
  std::string out = "runs/seed_tutorial/logprob.h5";
  bool noise = false;  ///< also write /z
  std::string dtype = "float32";
  std::string backend = "kokkos";  ///< "kokkos" (fused kernels) | "torch" (the reference path)
  std::string device = "cpu";      ///< "cpu" | "cuda" (the LibTorch backend on the GPU)
  int64_t block_size = 65536;
};

struct Config {
  std::string source;  ///< the file it came from
  DataConfig data;
  ModelConfig model;
  TrainingConfig training;
  OutputConfig output;
  SampleConfig sample;
  LogprobConfig logprob;
};

/// Reads `path`, applies `overrides` ("section.key=VALUE", VALUE in TOML; a value that is not
/// valid TOML is taken as a string) and validates everything. Throws ConfigError naming the key
/// and file:line:col (or the --set argument) for unknown keys, wrong types and bad values.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// The resolved config (every key, defaults included) as TOML text.
std::string to_toml(const Config& config);

}  // namespace gwflow::config
