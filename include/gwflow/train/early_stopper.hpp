#pragma once
// mbank's early_stopper: stop after `patience` validations worse than the best by more than
// min_delta; a NaN validation loss stops at once. The caller keeps the best model.
#include <cstdint>

namespace gwflow::train {

class StateArchive;

struct EarlyStopper {
  int64_t patience = 10;
  double min_delta = 0;
  int64_t counter = 0;
  double best = 1e300;  ///< +inf before the first validation

  /// What one validation loss means.
  enum class Verdict { kImproved, kContinue, kStop };
  Verdict step(double loss);
  /// Saves or restores counter and best (patience and min_delta come from the config).
  void archive(StateArchive& a);
};

}  // namespace gwflow::train
