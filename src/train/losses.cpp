#include "gwflow/train/losses.hpp"

#include "gwflow/errors.hpp"

namespace gwflow::train {

Loss parse_loss(const std::string& name) {
  if (name == "forward_KL") return Loss::kForwardKL;
  if (name == "ll_mse") return Loss::kLlMse;
  if (name == "weighted_ll_mse") return Loss::kWeightedLlMse;
  throw ConfigError("training.loss = \"" + name + "\": expected forward_KL, ll_mse or weighted_ll_mse");
}

bool is_regression(Loss loss) { return loss != Loss::kForwardKL; }

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
