#pragma once
// The model a training starts from (docs/training.md sec. 1): built from training.seed (the same
// on every rank), its box from data.boundaries or the training data's range (with mbank's margin),
// every parameter from model.init when fine-tuning, and, for the regression losses, the constant
// C at the 0.9 quantile of the training targets.
#include "gwflow/config/config.hpp"
#include "gwflow/flow/flow.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/train/training_data.hpp"

namespace gwflow::train {

/// Collective (the quantile of the targets is over every rank's rows). Throws ConfigError naming
/// the key when data.columns, data.boundaries or model.init disagree with the data or the model.
/// The model is on the CPU.
flow::Flow make_initial_model(const config::Config& config, const TrainingData& data,
                              const parallel::Communicator& comm);

}  // namespace gwflow::train
