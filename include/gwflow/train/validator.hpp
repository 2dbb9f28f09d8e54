#pragma once
// The validation part of a training (docs/training.md sec. 4): the validation rows of this rank,
// the loss and metric over every rank's rows, and what a validation decides: the plateau
// scheduler's learning rate, early stopping and the best model so far.
#include <cmath>
#include <cstdint>

#include <torch/types.h>

#include "gwflow/config/config.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/early_stopper.hpp"
#include "gwflow/train/losses.hpp"
#include "gwflow/train/plateau_scheduler.hpp"
#include "gwflow/train/training_data.hpp"

namespace gwflow::train {

class GradientBackend;
class StateArchive;

/// One validation, over every rank's rows.
struct Validation {
  double loss = NAN;         ///< mean loss term over the rows with a finite log_prob
  double valmetric = NAN;    ///< mean log N(z) over the same rows
  int64_t outside_rows = 0;  ///< rows outside the training box (log_prob = -inf), left out
};

/// How well log_prob + C reproduces the target on the validation set (regression losses).
struct RegressionSummary {
  double constant = 0;       ///< C
  double residual_mean = 0;  ///< mean of log_prob + C - w over validation rows with finite log_prob
  double residual_std = 0;
  int64_t rows = 0;
};

class Validator {
 public:
  /// The validation rows (and targets, for the regression losses) in `flow`'s dtype on `device`.
  /// Collective (the smallest validation target over the ranks).
  Validator(const config::Config& config, const TrainingData& data, const flow::FlowImpl& flow, torch::Device device,
            const parallel::Communicator& comm);

  /// Collective: the loss and metric of the model `g` evaluates, in steps of
  /// training.validation_batch_size rows.
  Validation evaluate(GradientBackend& g, const torch::Tensor& constant) const;
  /// What the validation `v` after `iteration` decides: returns the learning rate to continue
  /// with (the plateau scheduler, when on) and keeps the best model (early stopping, when on).
  double respond(const Validation& v, int64_t iteration, double lr, const flow::FlowImpl& flow);
  /// True the first time a validation had rows outside the box (warn once per run).
  bool first_outside(const Validation& v);

  bool stopped_early() const { return stopped_early_; }
  int64_t best_iteration() const { return best_iteration_; }
  /// The parameters to publish: the best model when early stopping is on, else `flow`'s.
  flow::NamedTensors output_state(const flow::FlowImpl& flow) const;
  /// Collective: residuals of the published model on the validation rows (regression losses).
  RegressionSummary regression_summary(const flow::FlowImpl& flow) const;
  /// Saves or restores the scheduler, the stopper and the best model (its tensors named as
  /// `flow`'s parameters).
  void archive(StateArchive& a, const flow::FlowImpl& flow);

 private:
  const config::Config& config_;
  const parallel::Communicator& comm_;
  Loss loss_;
  torch::Device device_;
  torch::Tensor rows_, targets_;  // this rank's validation rows and (regression) targets
  double target_min_ = 0;         // the smallest target over every rank
  PlateauScheduler scheduler_;
  EarlyStopper stopper_;
  bool stopped_early_ = false;
  int64_t best_iteration_ = -1;
  flow::NamedTensors best_state_;
  bool warned_outside_ = false;
};

}  // namespace gwflow::train
