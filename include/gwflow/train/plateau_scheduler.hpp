#pragma once
// Reduce-on-plateau learning-rate schedule (PyTorch ReduceLROnPlateau, mode "min", relative
// threshold), which LibTorch 1.13 lacks. Stepped at validations only.
#include <cstdint>

namespace gwflow::train {

class StateArchive;

struct PlateauOptions {
  double factor = 0.5;
  int64_t patience = 4;
  double threshold = 0.02;  ///< relative: better means loss < best (1 - threshold)
  int64_t cooldown = 0;
  double min_lr = 0;
};

struct PlateauScheduler {
  PlateauOptions options;
  double best = 1e300;  ///< +inf before the first step
  int64_t num_bad_epochs = 0;
  int64_t cooldown_counter = 0;

  /// Feeds one validation loss; returns the learning rate to use from now on.
  double step(double loss, double lr);
  /// Saves or restores the state (not the options, which the config sets).
  void archive(StateArchive& a);
};

}  // namespace gwflow::train
