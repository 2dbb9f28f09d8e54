#pragma once
// The rows of the training and validation sets that this rank owns.
#include <torch/types.h>

#include "gwflow/config/config.hpp"
#include "gwflow/parallel/communicator.hpp"
#include "gwflow/parallel/sharding.hpp"

namespace gwflow::train {

/// This rank's contiguous shards ([rows, D], float64) and the global sizes. The box bounds
/// `low`/`high` [D] are the global per-dimension min/max of the training rows (no margin).
struct TrainingData {
  int64_t dim = 0;
  int64_t n_train = 0, n_validation = 0;  ///< global row counts
  parallel::Shard train_shard, validation_shard;
  torch::Tensor train, validation;
  torch::Tensor train_weights, validation_weights;  ///< [rows] target log density (when requested)
  torch::Tensor min, max;
};

/// Collective: each rank reads only its own hyperslab of data.train (and data.validation, or the
/// last validation_fraction rows of data.train, as mbank). Throws IoError/DomainError naming the
/// file for missing datasets, wrong shapes, NaN rows or too few rows.
/// With `need_weights` (regression losses) also reads data.weights (and data.validation_weights)
/// for the same rows.
TrainingData load_training_data(const config::DataConfig& data, const parallel::Communicator& comm,
                                bool need_weights = false);

}  // namespace gwflow::train
