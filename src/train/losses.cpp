#include "gwflow/train/losses.hpp"

namespace gwflow::train {

torch::Tensor loss_terms(Loss loss, const torch::Tensor& lp, const torch::Tensor& w, const torch::Tensor& constant,
                         double w_min) {
  switch (loss) {
  case Loss::kForwardKL: return -lp;
  case Loss::kLlMse: return (lp - w + constant).square();
  case Loss::kWeightedLlMse: {
    auto a = torch::sqrt(w - w_min);
    return ((lp - w + constant) * a).square();
  }
  }
  return -lp;
}

}  // namespace gwflow::train
