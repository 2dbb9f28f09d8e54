#pragma once
// Training history (mbank's history dict) and its HDF5 file.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gwflow::train {

class StateArchive;

struct History {
  int64_t validation_step = 1;
  std::vector<double> train_loss;            ///< one per iteration
  std::vector<double> validation_loss;       ///< one per validation
  std::vector<double> valmetric_value;       ///< one per validation
  std::vector<double> validation_iteration;  ///< the iteration of each validation
  std::vector<double> learning_rate;         ///< the learning rate at each validation
  double valmetric_mean = 0;
  double valmetric_std = 0;
  std::string validation_metric = "cross_entropy";

  /// Saves or restores everything but validation_step (which the config sets).
  void archive(StateArchive& a);
};

/// Writes /train_loss, /validation_loss, /valmetric_value, /validation_iteration and the
/// attributes validation_step, valmetric_mean, valmetric_std, validation_metric, format_version
/// and the string attributes `provenance` (e.g. gwflow_version, config), atomically.
/// Not collective: call on one rank.
void save_history(const History& history, const std::string& path,
                  const std::vector<std::pair<std::string, std::string>>& provenance = {});

/// Reads a history file written by save_history.
History load_history(const std::string& path);

}  // namespace gwflow::train
