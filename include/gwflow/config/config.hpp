#pragma once
// The configuration schema (docs/config.md). Each TOML section is one struct whose fields are
// declared once, in its `fields(self, visit)`: key, member, limits, flags and the one-line doc.
// The defaults are the members' initialisers. The TOML reader and the --set overrides, the
// resolved-config writer (to_toml), the restart identity (restart_identity) and the README's
// config table (tools/config-reference) are all visitors over these lists, so a key added here
// is read, checked, written, compared on restart and documented with no second list.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gwflow/config/choices.hpp"

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

/// The range a number (or each entry of a list of numbers) must lie in.
struct Limits {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
};
constexpr Limits kAnyValue{};
constexpr Limits at_least(double v) { return {v, std::numeric_limits<double>::infinity(), false, false}; }
constexpr Limits between(double lo, double hi) { return {lo, hi, false, false}; }
constexpr Limits above(double v) { return {v, std::numeric_limits<double>::infinity(), true, false}; }
constexpr Limits open_interval(double lo, double hi) { return {lo, hi, true, true}; }

/// Field flags.
enum FieldFlag : unsigned {
  kPlain = 0,
  kIdentity = 1u << 0,    ///< part of the restart identity: a checkpoint continues only under the same value
  kMayBeEmpty = 1u << 1,  ///< a string key that may be "" (all other strings, paths above all, must not be)
};

// Upper bounds that catch typos before they become a 24 GB allocation or 10 000 threads.
constexpr double kMaxWidth = 65536, kMaxLayers = 1024, kMaxThreads = 4096;
constexpr double kMaxRows = 1125899906842624.0 /* 2^50 */, kMaxBlock = 67108864.0 /* 2^26 */;

struct DataConfig {
  DatasetRef train;
  DatasetRef weights;
  DatasetRef validation;
  DatasetRef validation_weights;
  double validation_fraction = 0.1;
  std::optional<Box> boundaries;
  std::vector<std::string> columns;

  template <class Self, class V> static void fields(Self& s, V&& v) {
    v("train", s.train, kAnyValue, kIdentity, "`\"FILE.h5:/x\"`, the points `[N, D]` (required for `train`)");
    v("validation", s.validation, kAnyValue, kIdentity, "optional separate validation set `[M, D]`");
    v("validation_fraction", s.validation_fraction, open_interval(0, 1), kIdentity,
      "without `data.validation`, the **last** rows validate, the first train (as mbank)");
    v("boundaries", s.boundaries, kAnyValue, kIdentity,
      "optional box `[[lo_1..lo_D], [hi_1..hi_D]]`; else the training data's min/max. A 1 % margin is added "
      "either way");
    v("columns", s.columns, kAnyValue, kPlain,
      "optional names of the D coordinates, e.g. `[\"M\", \"q\", \"s1z\", \"s2z\"]`: written as the `columns` "
      "attribute of sample and logprob files; must have D distinct printable names");
    v("weights", s.weights, kAnyValue, kPlain,
      "target log density `[N]` (`\"FILE.h5:/log_pdf\"`), needed by the regression losses");
    v("validation_weights", s.validation_weights, kAnyValue, kPlain,
      "targets of `data.validation` (regression losses with a separate validation set)");
  }
};

struct ModelConfig {
  int64_t n_layers = 3;
  std::vector<int64_t> hidden_features{5};
  bool constant = false;
  Dtype dtype = Dtype::kFloat32;
  std::string init;

  template <class Self, class V> static void fields(Self& s, V&& v) {
    v("n_layers", s.n_layers, between(1, kMaxLayers), kPlain, "number of (NaiveLinear, MAF) pairs");
    v("hidden_features", s.hidden_features, between(1, kMaxWidth), kIdentity,
      "one width, or one per layer `[10, 5, 5]`");
    v("constant", s.constant, kAnyValue, kIdentity, "add mbank's trainable `constant` parameter");
    v("dtype", s.dtype, kAnyValue, kIdentity, "arithmetic precision of the model and its training");
    v("init", s.init, kAnyValue, kIdentity | kMayBeEmpty,
      "optional weights file (gwflow's or mbank's) to start from: fine-tuning; its architecture must match");
  }
};

struct TrainingConfig {
  Loss loss = Loss::kForwardKL;
  int64_t iterations = 1000;
  int64_t batch_size = 10000;
  double learning_rate = 1e-3;
  int64_t validation_step = 20;
  int64_t validation_batch_size = 65536;
  int64_t seed = 0;
  Backend backend = Backend::kKokkos;
  int64_t checkpoint_every = 100;
  Restart restart = Restart::kOff;
  Device device = Device::kCpu;
  Reducer reducer = Reducer::kAuto;
  int64_t threads = 0;
  LrScheduler lr_scheduler = LrScheduler::kNone;
  double lr_factor = 0.5;
  int64_t lr_patience = 4;
  double lr_threshold = 0.02;
  int64_t lr_cooldown = 0;
  double min_lr = 0;
  bool early_stopping = false;
  int64_t patience = 10;
  double min_delta = 0;

  template <class Self, class V> static void fields(Self& s, V&& v) {
    v("loss", s.loss, kAnyValue, kIdentity,
      "`\"forward_KL\"`: `-mean log_prob`; `\"ll_mse\"`: `mean (log_prob - w + C)^2`; `\"weighted_ll_mse\"`: the "
      "same weighted by `w - min_batch(w)` (docs/training.md sec. 3; both need `model.constant = true` and "
      "`data.weights`)");
    v("iterations", s.iterations, at_least(0), kPlain, "optimizer steps (mbank's `N_epochs`)");
    v("batch_size", s.batch_size, at_least(0), kIdentity, "global batch over all ranks; 0 = the whole training set");
    v("learning_rate", s.learning_rate, above(0), kIdentity, "Adam");
    v("validation_step", s.validation_step, at_least(1), kIdentity, "validate at iterations 0, step, 2 step, ...");
    v("validation_batch_size", s.validation_batch_size, between(1, kMaxBlock), kIdentity,
      "validation rows per rank per evaluation step: bounds validation memory (the loss sums change in the last "
      "bits with it)");
    v("seed", s.seed, at_least(0), kIdentity, "model initialisation and batch draws");
    v("backend", s.backend, kAnyValue, kIdentity,
      "`\"kokkos\"`: log_prob and every parameter gradient by the fused kernels (`forward_KL`: one fused "
      "forward + reverse pass per step, no autograd; the regression losses: a LibTorch autograd Function whose "
      "backward is the gradient kernel), and a fused Adam step; `\"torch\"`: the LibTorch reference path. On "
      "`device = \"cuda\"`, or for a model past the kernels' limits (D > 32, a width > 256), training uses "
      "LibTorch and says so at start");
    v("checkpoint_every", s.checkpoint_every, at_least(0), kPlain,
      "write a checkpoint every this many iterations (0: only when stopping/finishing)");
    v("restart", s.restart, kAnyValue, kPlain,
      "`\"off\"`: fresh unless `--restart` (which then needs a checkpoint); `\"auto\"`: continue from the "
      "newest valid checkpoint whenever there is one, else start fresh");
    v("device", s.device, kAnyValue, kPlain,
      "`\"cuda\"`: model, batches and optimizer on the GPU (needs a CUDA LibTorch; Debian's is CPU-only, so "
      "there it is a clear error); rank r uses GPU r mod count");
    v("reducer", s.reducer, kAnyValue, kPlain,
      "gradient allreduce: `\"auto\"` (NCCL for CUDA tensors when built with it, else MPI), `\"mpi\"` (host "
      "memory; CUDA gradients staged through the host), `\"nccl\"`");
    v("threads", s.threads, between(0, kMaxThreads), kPlain,
      "LibTorch threads per rank; 0 = 1 with several ranks, else `OMP_NUM_THREADS` or LibTorch's default");
    v("lr_scheduler", s.lr_scheduler, kAnyValue, kIdentity,
      "`\"plateau\"`: reduce the learning rate on plateau at validations (mbank's executable), with the five "
      "`lr_*`/`min_lr` keys below");
    v("lr_factor", s.lr_factor, open_interval(0, 1), kIdentity, "plateau: the factor the learning rate is cut by");
    v("lr_patience", s.lr_patience, at_least(0), kIdentity, "plateau: validations without improvement first");
    v("lr_threshold", s.lr_threshold, kAnyValue, kIdentity, "plateau: relative improvement that counts");
    v("lr_cooldown", s.lr_cooldown, at_least(0), kIdentity, "plateau: validations to wait after a cut");
    v("min_lr", s.min_lr, kAnyValue, kIdentity, "plateau: the learning rate's floor");
    v("early_stopping", s.early_stopping, kAnyValue, kIdentity,
      "stop after `patience` validations worse than the best by more than `min_delta`; a NaN validation loss "
      "stops at once; `weights.zip` then holds the best model");
    v("patience", s.patience, at_least(1), kIdentity, "early stopping: bad validations allowed");
    v("min_delta", s.min_delta, kAnyValue, kIdentity, "early stopping: the improvement that counts");
  }
};

struct OutputConfig {
  std::string dir = "runs/seed_tutorial";

  template <class Self, class V> static void fields(Self& s, V&& v) {
    v("dir", s.dir, kAnyValue, kPlain, "where `weights.zip`, `history.h5`, `config.toml` and the checkpoints go");
  }
};

struct SampleConfig {
  std::string weights = "runs/seed_tutorial/weights.zip";
  int64_t n = 1000000;
  int64_t seed = 1;
  std::string out = "runs/seed_tutorial/samples.h5";
  std::optional<Box> boundaries;
  Dtype dtype = Dtype::kFloat32;
  Backend backend = Backend::kKokkos;
  Device device = Device::kCpu;
  int64_t block_size = 65536;
  int64_t max_candidates = 0;

  template <class Self, class V> static void fields(Self& s, V&& v) {
    v("weights", s.weights, kAnyValue, kPlain, "the flow (gwflow's or mbank's weights file)");
    v("n", s.n, between(0, kMaxRows), kPlain, "number of samples");
    v("seed", s.seed, at_least(0), kPlain, "the noise stream (each row's noise depends on the seed and its index)");
    v("out", s.out, kAnyValue, kPlain, "output file");
    v("boundaries", s.boundaries, kAnyValue, kPlain,
      "keep only samples inside this box: the file holds the first n accepted candidates");
    v("dtype", s.dtype, kAnyValue, kPlain, "arithmetic precision and output type");
    v("backend", s.backend, kAnyValue, kPlain,
      "`\"kokkos\"`: the fused kernels (packed parameters, one-pass MAF inverse); `\"torch\"`: the LibTorch "
      "reference path");
    v("device", s.device, kAnyValue, kPlain,
      "`\"cuda\"`: the LibTorch backend on the GPU (the Kokkos kernels of this build run on the host)");
    v("block_size", s.block_size, between(1, kMaxBlock), kPlain, "rows per rank per step: bounds memory");
    v("max_candidates", s.max_candidates, at_least(0), kPlain,
      "with boundaries, give up after this many candidates (0: 1000 n + 10^6; none accepted in the first 10^6 "
      "is an error at once)");
  }
};

struct LogprobConfig {
  std::string weights = "runs/seed_tutorial/weights.zip";
  DatasetRef input;
  std::string out = "runs/seed_tutorial/logprob.h5";
  bool noise = false;
  Dtype dtype = Dtype::kFloat32;
  Backend backend = Backend::kKokkos;
  Device device = Device::kCpu;
  int64_t block_size = 65536;

  template <class Self, class V> static void fields(Self& s, V&& v) {
    v("weights", s.weights, kAnyValue, kPlain, "the flow (gwflow's or mbank's weights file)");
    v("input", s.input, kAnyValue, kPlain, "`\"FILE.h5:/x\"`, the points `[N, D]` (required for `logprob`)");
    v("out", s.out, kAnyValue, kPlain, "output file");
    v("noise", s.noise, kAnyValue, kPlain, "also write `/z`, the points mapped to noise");
    v("dtype", s.dtype, kAnyValue, kPlain, "arithmetic precision and output type");
    v("backend", s.backend, kAnyValue, kPlain, "as `sample.backend`");
    v("device", s.device, kAnyValue, kPlain, "as `sample.device`");
    v("block_size", s.block_size, between(1, kMaxBlock), kPlain, "rows per rank per step: bounds memory");
  }
};

struct Config {
  std::string source;  ///< the file it came from
  DataConfig data;
  ModelConfig model;
  TrainingConfig training;
  OutputConfig output;
  SampleConfig sample;
  LogprobConfig logprob;

  template <class Self, class V> static void sections(Self& c, V&& v) {
    v("data", c.data);
    v("model", c.model);
    v("training", c.training);
    v("output", c.output);
    v("sample", c.sample);
    v("logprob", c.logprob);
  }
};

/// Calls f(section, key, member, limits, flags, doc) for every field of `config` (const or not),
/// in declaration order.
template <class C, class F> void for_each_field(C& config, F&& f) {
  std::remove_const_t<C>::sections(config, [&](const char* section, auto& members) {
    using Section = std::remove_const_t<std::remove_reference_t<decltype(members)>>;
    Section::fields(members, [&](const char* key, auto& member, const Limits& limits, unsigned flags, const char* doc) {
      f(section, key, member, limits, flags, doc);
    });
  });
}

/// Reads `path`, applies `overrides` ("section.key=VALUE", VALUE in TOML; a value that is not
/// valid TOML is taken as a string) and validates everything (validate()). Throws ConfigError
/// naming the key and file:line:col (or the --set argument) for unknown keys, wrong types and
/// bad values.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// The checks between fields, after every field has passed its own limits: the widths against
/// model.n_layers (one width is repeated, here), the regression losses against model.constant
/// and data.weights. Throws ConfigError naming the keys.
void validate(Config& config);

/// The resolved config (every key, defaults included) as TOML text.
std::string to_toml(const Config& config);

/// The fields flagged kIdentity as ("section.key", canonical text) pairs, in declaration order:
/// what a checkpoint records and a restart must match.
std::vector<std::pair<std::string, std::string>> restart_identity(const Config& config);

/// The config reference as a Markdown table (| key | default | meaning |), one row per field.
std::string reference_table();

}  // namespace gwflow::config
