#pragma once
// CompositeTransform: a chain of transforms, forward in order, inverse in reverse order.
#include <memory>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>

#include "gwflow/flow/transform.hpp"

namespace gwflow::flow {

/// Holds its children in the ModuleList `_transforms` (so they are named `_transforms.<i>.*`).
class CompositeImpl : public TransformImpl {
 public:
  CompositeImpl();
  void push_back(std::shared_ptr<TransformImpl> transform);
  TransformResult forward(const torch::Tensor& x) override;
  TransformResult inverse(const torch::Tensor& z) override;
  size_t size() const { return transforms_.size(); }
  const std::shared_ptr<TransformImpl>& at(size_t i) const { return transforms_.at(i); }

 private:
  torch::nn::ModuleList list_;
  std::vector<std::shared_ptr<TransformImpl>> transforms_;
};
TORCH_MODULE(Composite);

}  // namespace gwflow::flow
