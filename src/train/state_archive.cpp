#include "gwflow/train/state_archive.hpp"

#include "gwflow/errors.hpp"

namespace gwflow::train {

StateArchive StateArchive::saving(io::CheckpointContent& content) {
  StateArchive a;
  a.out_ = &content;
  return a;
}

StateArchive StateArchive::loading(const io::CheckpointContent& content, std::string source) {
  StateArchive a;
  a.in_ = &content;
  a.tensors_.insert(content.tensors.begin(), content.tensors.end());
  a.source_ = std::move(source);
  return a;
}

void StateArchive::missing(const std::string& key) const {
  throw IoError(source_ + ": the checkpoint lacks '" + key + "'");
}

void StateArchive::number(const std::string& key, double& value) {
  if (!in_) {
    out_->numbers[key] = value;
    return;
  }
  auto it = in_->numbers.find(key);
  if (it == in_->numbers.end()) missing(key);
  value = it->second;
}

void StateArchive::integer(const std::string& key, int64_t& value) {
  auto v = static_cast<double>(value);  // exact below 2^53: iterations, counters, steps
  number(key, v);
  value = static_cast<int64_t>(v);
}

void StateArchive::flag(const std::string& key, bool& value) {
  double v = value ? 1 : 0;
  number(key, v);
  value = v > 0;
}

void StateArchive::text(const std::string& key, std::string& value) {
  if (!in_) {
    out_->text[key] = value;
    return;
  }
  auto it = in_->text.find(key);
  if (it == in_->text.end()) missing(key);
  value = it->second;
}

void StateArchive::tensor(const std::string& key, torch::Tensor& value) {
  if (!in_) {
    out_->tensors.emplace_back(key, value);
    return;
  }
  auto it = tensors_.find(key);
  if (it == tensors_.end()) missing(key);
  value = it->second;
}

void StateArchive::series(const std::string& key, std::vector<double>& value) {
  torch::Tensor t;
  if (!in_) t = torch::tensor(value, torch::kFloat64).reshape({static_cast<int64_t>(value.size())});
  tensor(key, t);
  if (in_) {
    auto d = t.to(torch::kFloat64).contiguous();
    value.assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  }
}

}  // namespace gwflow::train
