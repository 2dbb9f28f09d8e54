#pragma once
// Data-parallel forward-KL training (mbank train_flow_forward_KL semantics).
#include <functional>
#include <string>

#include "gwflow/config/config.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/history.hpp"
#include "gwflow/train/training_data.hpp"

namespace gwflow::train {

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

  /// Runs until config.training.iterations or a stop signal agreed by all ranks. Collective.
  void run(const TrainCallbacks& callbacks);

  flow::Flow flow() const { return flow_; }
  const History& history() const { return history_; }
  /// The signal that stopped the run (0 when it completed).
  int stop_signal() const { return stop_signal_; }
  int64_t iterations_done() const { return iteration_; }
  /// Global count of validation rows outside the box at the last validation.
  int64_t validation_outside() const { return validation_outside_; }
  /// Batch rows this rank draws per iteration.
  int64_t local_batch() const { return local_batch_; }

 private:
  /// Validation loss and metric over all ranks' validation rows. Collective.
  void validate(Progress& p);

  const config::Config& config_;
  const TrainingData& data_;
  const parallel::Communicator& comm_;
  flow::Flow flow_{nullptr};
  History history_;
  torch::Tensor train_, validation_;
  int64_t global_batch_ = 0, local_batch_ = 0;
  int64_t iteration_ = 0;
  int stop_signal_ = 0;
  int64_t validation_outside_ = 0;
  bool warned_outside_ = false;
};

}  // namespace gwflow::train
