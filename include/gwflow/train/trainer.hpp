#pragma once
// Data-parallel forward-KL training (mbank train_flow_forward_KL semantics) with checkpoints.
#include <functional>
#include <memory>
#include <string>

#include <ATen/core/Generator.h>

#include "gwflow/config/config.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/io/checkpoint_file.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/early_stopper.hpp"
#include "gwflow/train/history.hpp"
#include "gwflow/train/losses.hpp"
#include "gwflow/train/plateau_scheduler.hpp"
#include "gwflow/train/training_data.hpp"

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

/// How well log_prob + C reproduces the target on the validation set (regression losses).
struct RegressionSummary {
  double constant = 0;       ///< C
  double residual_mean = 0;  ///< mean of log_prob + C - w over validation rows with finite log_prob
  double residual_std = 0;
  int64_t rows = 0;
};

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
  flow::NamedTensors output_state() const;
  /// True when early stopping ended the training.
  bool stopped_early() const { return stopped_early_; }
  int64_t best_iteration() const { return best_iteration_; }
  Loss loss() const { return loss_; }
  /// Collective: residuals of the published model on the validation set (regression losses).
  RegressionSummary regression_summary();
  const History& history() const { return history_; }
  /// The signal that stopped the run (0 when it completed).
  int stop_signal() const { return stop_signal_; }
  int64_t iterations_done() const { return iteration_; }
  /// Batch rows this rank draws per iteration.
  int64_t local_batch() const { return local_batch_; }
  /// Seconds and bytes of the last checkpoint write (rank 0's view).
  double last_checkpoint_seconds() const { return last_checkpoint_seconds_; }
  int64_t last_checkpoint_bytes() const { return last_checkpoint_bytes_; }

 private:
  void validate(Progress& p);
  /// The whole training state, saved or restored through one list (StateArchive).
  void archive(StateArchive& a, const std::function<void(const std::string&)>& message);

  const config::Config& config_;
  const TrainingData& data_;
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
  torch::Tensor train_, validation_, train_w_, validation_w_;
  Loss loss_ = Loss::kForwardKL;
  double validation_w_min_ = 0;
  double lr_ = 0;
  bool use_scheduler_ = false;
  PlateauScheduler scheduler_;
  EarlyStopper stopper_;
  bool stopped_early_ = false;
  int64_t best_iteration_ = -1;
  flow::NamedTensors best_state_;
  int64_t global_batch_ = 0, local_batch_ = 0;
  int64_t iteration_ = 0;
  int64_t last_checkpoint_iteration_ = -1;
  double last_checkpoint_seconds_ = 0;
  int64_t last_checkpoint_bytes_ = 0;
  int stop_signal_ = 0;
  int64_t validation_outside_ = 0;
  bool warned_outside_ = false;
};

}  // namespace gwflow::train
