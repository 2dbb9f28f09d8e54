#include "gwflow/train/early_stopper.hpp"

#include "gwflow/train/state_archive.hpp"

#include <cmath>

namespace gwflow::train {

EarlyStopper::Verdict EarlyStopper::step(double loss) {
  if (std::isnan(loss)) return Verdict::kStop;  // counts as infinite: stop at once
  if (loss < best) {                            // strictly lower: the new best model
    best = loss;
    counter = 0;
    return Verdict::kImproved;
  }
  if (loss > best + min_delta) {
    if (++counter >= patience) return Verdict::kStop;
  }
  return Verdict::kContinue;
}

void EarlyStopper::archive(StateArchive& a) {
  a.integer("stopper.counter", counter);
  a.number("stopper.best", best);
}

}  // namespace gwflow::train
