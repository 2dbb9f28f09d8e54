#pragma once
// One interface through which every part of the training state saves and restores itself
// (docs/files.md sec. 5, the checkpoint contents). A part lists its fields once, in
// `archive(StateArchive&)`: the same list writes a checkpoint and reads it back, so a field cannot
// be saved without being restored, or restored under another key.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "gwflow/io/checkpoint_file.hpp"

namespace gwflow::train {

class StateArchive {
 public:
  /// Saving: every field is copied into `content`.
  static StateArchive saving(io::CheckpointContent& content);
  /// Loading: every field is set from `content`; a missing one is an IoError naming `source` and
  /// the key.
  static StateArchive loading(const io::CheckpointContent& content, std::string source);

  bool is_loading() const { return in_ != nullptr; }
  /// Loading: the checkpoint's name, for error messages.
  const std::string& source() const { return source_; }
  void number(const std::string& key, double& value);
  void integer(const std::string& key, int64_t& value);
  void flag(const std::string& key, bool& value);
  void text(const std::string& key, std::string& value);
  /// Loading: the stored tensor (shared with the content: clone it to keep it).
  void tensor(const std::string& key, torch::Tensor& value);
  /// A list of numbers, stored as a float64 tensor.
  void series(const std::string& key, std::vector<double>& value);
  /// Loading: whether a tensor `key` is stored; saving: false.
  bool has_tensor(const std::string& key) const { return tensors_.count(key) > 0; }

 private:
  StateArchive() = default;
  [[noreturn]] void missing(const std::string& key) const;
  io::CheckpointContent* out_ = nullptr;
  const io::CheckpointContent* in_ = nullptr;
  std::map<std::string, torch::Tensor> tensors_;  // loading: the stored tensors by name
  std::string source_;
};

}  // namespace gwflow::train
