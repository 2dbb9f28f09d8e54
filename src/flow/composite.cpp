#include "gwflow/flow/composite.hpp"

namespace gwflow::flow {

CompositeImpl::CompositeImpl() { list_ = register_module("_transforms", torch::nn::ModuleList()); }

void CompositeImpl::push_back(std::shared_ptr<TransformImpl> transform) {
  list_->push_back(transform);
  transforms_.push_back(std::move(transform));
}

TransformResult CompositeImpl::forward(const torch::Tensor& x) {
  TransformResult r{x, torch::zeros({x.size(0)}, x.options())};
  for (auto& t : transforms_) {
    auto step = t->forward(r.outputs);
    r.outputs = step.outputs;
    r.logabsdet = r.logabsdet + step.logabsdet;
  }
  return r;
}

TransformResult CompositeImpl::inverse(const torch::Tensor& z) {
  TransformResult r{z, torch::zeros({z.size(0)}, z.options())};
  for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) {
    auto step = (*it)->inverse(r.outputs);
    r.outputs = step.outputs;
    r.logabsdet = r.logabsdet + step.logabsdet;
  }
  return r;
}

}  // namespace gwflow::flow
