#pragma once
// Data-parallel training (mbank train_flow_forward_KL semantics, and the regression losses) with
// checkpoints: a loop over its parts (docs/training.md):
//   - the model (make_initial_model), the optimizer and this rank's batch generator;
//   - a GradientBackend: log p and the gradients (fused kernels or LibTorch);
//   - the Validator: validation, the learning-rate schedule, early stopping, the best model;
//   - the Checkpointer: the state on disk and the checks before a restart.
#include <functional>
#include <memory>
#include <string>

#include <ATen/core/Generator.h>

#include "gwflow/config/config.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/io/checkpoint_file.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/checkpointer.hpp"
#include "gwflow/train/history.hpp"
#include "gwflow/train/losses.hpp"
#include "gwflow/train/training_data.hpp"
#include "gwflow/train/validator.hpp"

namespace torch::optim {
class Adam;
}

namespace gwflow::parallel {
class GradientReducer;
}

namespace gwflow::train {

class GradientBackend;
class StateArchive;

/// What the training reports after each iteration (rank 0 prints it).
struct Progress {
  int64_t iteration = 0;   ///< 0-based, just finished
  int64_t iterations = 0;  ///< total planned
  double train_loss = 0;
  bool validated = false;  ///< this iteration ran a validation
  double validation_loss = 0;
  double valmetric = 0;
};

struct TrainCallbacks {
  std::function<void(const Progress&)> progress;
  std::function<void(const std::string&)> message;  ///< warnings and notes, called on every rank
};

/// The reference distribution of the validation metric for n points in d dims: mean and std of
/// m = mean_i log N(z_i) over 1000 draws. Uses sum_i |z_i|^2 ~ chi2(n d), which has exactly the
/// distribution of mbank's direct draws at O(1) cost per draw.
std::pair<double, double> valmetric_reference(int64_t n, int64_t d, uint64_t seed);

/// Trains a flow on `data` (every rank holds its shard). Every rank takes identical optimizer
/// steps: the gradients are summed with one allreduce. Collective.
class Trainer {
 public:
  Trainer(const config::Config& config, const TrainingData& data, const parallel::Communicator& comm);
  ~Trainer();

  /// Runs until config.training.iterations, or until a stop signal agreed by all ranks (then
  /// stop_signal() says which). Writes a checkpoint every training.checkpoint_every iterations
  /// into `checkpoint_dir` (none when empty). Collective.
  void run(const TrainCallbacks& callbacks, const std::string& checkpoint_dir = "");

  /// Collective: writes the complete training state after iterations_done() steps into
  /// `dir`/checkpoint-<iteration>.h5 (rank 0 writes; atomic) and keeps the newest two.
  /// Returns the file's path (on every rank). Does nothing if that checkpoint was just written.
  std::string save_checkpoint(const std::string& dir);
  /// Continues from a checkpoint read by io::read_checkpoint_file. Throws ConfigError naming
  /// the key when the checkpoint belongs to an incompatible config or to changed data. A changed
  /// rank count is allowed (a warning through `message`). Not collective.
  void restore(const io::CheckpointContent& checkpoint, const std::string& source,
               const std::function<void(const std::string&)>& message);

  flow::Flow flow() const { return flow_; }
  /// The backend that computes log_prob and gradients ("kokkos" or "torch") and, when it differs
  /// from training.backend, why (empty otherwise).
  std::string backend() const { return config::name_of(backend_); }
  const std::string& backend_note() const { return backend_note_; }
  /// The parameters to publish: the best model (lowest validation loss) when early stopping is
  /// on, else the current one.
  flow::NamedTensors output_state() const { return validator_->output_state(*flow_); }
  /// True when early stopping ended the training.
  bool stopped_early() const { return validator_->stopped_early(); }
  int64_t best_iteration() const { return validator_->best_iteration(); }
  Loss loss() const { return loss_; }
  /// Collective: residuals of the published model on the validation set (regression losses).
  RegressionSummary regression_summary() { return validator_->regression_summary(*flow_); }
  const History& history() const { return history_; }
  /// The signal that stopped the run (0 when it completed).
  int stop_signal() const { return stop_signal_; }
  int64_t iterations_done() const { return iteration_; }
  /// Batch rows this rank draws per iteration, and over all ranks (training.batch_size, 0 and
  /// values above the training rows meaning all of them).
  int64_t local_batch() const { return local_batch_; }
  int64_t global_batch() const { return global_batch_; }
  /// Seconds and bytes of the last checkpoint write (rank 0's view).
  double last_checkpoint_seconds() const { return checkpointer_.last_seconds(); }
  int64_t last_checkpoint_bytes() const { return checkpointer_.last_bytes(); }

 private:
  /// Validates after the step of p.iteration: fills p, records the history, applies the
  /// scheduler's learning rate.
  void validate(Progress& p, const TrainCallbacks& cb);
  /// The whole training state, saved or restored through one list (StateArchive).
  void archive(StateArchive& a, const std::function<void(const std::string&)>& message);

  const config::Config& config_;
  const parallel::Communicator& comm_;
  flow::Flow flow_{nullptr};
  config::Backend backend_ = config::Backend::kTorch;
  std::string backend_note_;
  torch::Device device_{torch::kCPU};
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::Adam> adam_;
  std::unique_ptr<parallel::GradientReducer> reducer_;
  std::unique_ptr<GradientBackend> gradient_;  // log p and gradients: fused kernels or LibTorch
  at::Generator gen_;
  std::vector<std::vector<uint8_t>> gathered_rng_;  // save_checkpoint: every rank's generator (rank 0)
  History history_;
  torch::Tensor train_, train_w_;  // this rank's training rows and (regression) targets
  Loss loss_ = Loss::kForwardKL;
  double lr_ = 0;
  std::unique_ptr<Validator> validator_;
  Checkpointer checkpointer_;
  int64_t global_batch_ = 0, local_batch_ = 0;
  int64_t iteration_ = 0;
  int stop_signal_ = 0;
};

}  // namespace gwflow::train
