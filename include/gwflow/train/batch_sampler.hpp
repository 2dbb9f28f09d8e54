#pragma once
// The training batch draw: `batch` distinct rows of a rank's `n`, uniformly at random and in random
// order, as mbank's torch.randperm(n)[:batch] draws them, in O(batch) time per draw rather than
// randperm's O(n) (which cost more than the fused kernels' whole step for the seed tutorial).
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace gwflow::train {

class BatchSampler {
 public:
  /// Draws of `batch` rows out of `n` (0 <= batch <= n).
  BatchSampler(int64_t n, int64_t batch);
  /// The next batch: a partial Fisher-Yates shuffle of 0..n-1 over the first `batch` positions,
  /// with exactly uniform indices (Lemire's bounded random numbers on the generator's output). The draw depends only on
  /// the generator's state (the shuffle is undone afterwards), so a checkpointed generator reproduces it. Returns a
  /// view of internal storage.
  const std::vector<int64_t>& draw(at::Generator& gen);
  int64_t n() const { return static_cast<int64_t>(perm_.size()); }

 private:
  std::vector<int64_t> perm_;  // the identity between draws
  std::vector<int64_t> swap_;  // the partner of each position of the last draw
  std::vector<int64_t> batch_;
};

/// rows[idx] of a 1-D or 2-D tensor, on its device: a plain copy loop for contiguous CPU float32 /
/// float64 tensors (LibTorch's index_select copies row by row with memmove, slow for narrow rows),
/// index_select otherwise.
torch::Tensor gather_rows(const torch::Tensor& rows, const std::vector<int64_t>& idx);

}  // namespace gwflow::train
