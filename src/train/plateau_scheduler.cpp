#include "gwflow/train/plateau_scheduler.hpp"

#include "gwflow/train/state_archive.hpp"

#include <algorithm>

namespace gwflow::train {

double PlateauScheduler::step(double loss, double lr) {
  // torch.optim.lr_scheduler.ReduceLROnPlateau.step, mode="min", threshold_mode="rel".
  if (loss < best * (1.0 - options.threshold)) {
    best = loss;
    num_bad_epochs = 0;
  } else {
    ++num_bad_epochs;
  }
  if (cooldown_counter > 0) {
    --cooldown_counter;
    num_bad_epochs = 0;
  }
  if (num_bad_epochs > options.patience) {
    const double new_lr = std::max(lr * options.factor, options.min_lr);
    if (lr - new_lr > 1e-8) lr = new_lr;
    cooldown_counter = options.cooldown;
    num_bad_epochs = 0;
  }
  return lr;
}

void PlateauScheduler::archive(StateArchive& a) {
  a.number("scheduler.best", best);
  a.integer("scheduler.num_bad_epochs", num_bad_epochs);
  a.integer("scheduler.cooldown_counter", cooldown_counter);
}

}  // namespace gwflow::train
