#include "gwflow/train/batch_sampler.hpp"

#include "gwflow/errors.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>
#include <numeric>
#include <stdexcept>

namespace gwflow::train {
namespace {

/// A uniform integer in [0, range) (range >= 1) from the generator's 32-bit (range < 2^32) or
/// 64-bit words: Lemire's multiply and reject, exact (no modulo bias).
uint64_t bounded(at::CPUGeneratorImpl* g, uint64_t range) {
  if (range <= 0xffffffffu) {  // one 32-bit word is enough (half the generator's work)
    const uint32_t r32 = static_cast<uint32_t>(range);
    uint64_t m = static_cast<uint64_t>(g->random()) * r32;
    uint32_t low = static_cast<uint32_t>(m);
    if (low < r32) {
      const uint32_t threshold = (0u - r32) % r32;
      while (low < threshold) {
        m = static_cast<uint64_t>(g->random()) * r32;
        low = static_cast<uint32_t>(m);
      }
    }
    return m >> 32;
  }
  unsigned __int128 m = static_cast<unsigned __int128>(g->random64()) * range;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < range) {
    const uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(g->random64()) * range;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

template <typename T> void gather(const T* src, int64_t d, const std::vector<int64_t>& idx, T* dst) {
  constexpr size_t kAhead = 16;
  for (size_t r = 0; r < idx.size(); ++r) {
    if (r + kAhead < idx.size()) __builtin_prefetch(src + idx[r + kAhead] * d);
    const T* s = src + idx[r] * d;
    T* o = dst + static_cast<int64_t>(r) * d;
    for (int64_t k = 0; k < d; ++k) o[k] = s[k];
  }
}

}  // namespace

BatchSampler::BatchSampler(int64_t n, int64_t batch) {
  if (batch < 0 || batch > n) throw InternalError("BatchSampler: need 0 <= batch <= n");
  perm_.resize(static_cast<size_t>(n));
  std::iota(perm_.begin(), perm_.end(), int64_t{0});
  swap_.resize(static_cast<size_t>(batch));
  batch_.resize(static_cast<size_t>(batch));
}

const std::vector<int64_t>& BatchSampler::draw(at::Generator& gen) {
  auto* g = at::check_generator<at::CPUGeneratorImpl>(gen);
  const int64_t n = this->n();
  const int64_t b = static_cast<int64_t>(batch_.size());
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    for (int64_t i = 0; i < b; ++i) swap_[i] = i + static_cast<int64_t>(bounded(g, static_cast<uint64_t>(n - i)));
  }
  // The swaps, then their undo (back to the identity), with the partners prefetched: for a large
  // shard the permutation is beyond L2, and each swap would otherwise wait for memory.
  constexpr int64_t kAhead = 16;
  for (int64_t i = 0; i < b; ++i) {
    if (i + kAhead < b) __builtin_prefetch(&perm_[swap_[i + kAhead]], 1);
    std::swap(perm_[i], perm_[swap_[i]]);
    batch_[i] = perm_[i];
  }
  for (int64_t i = b - 1; i >= 0; --i) {
    if (i >= kAhead) __builtin_prefetch(&perm_[swap_[i - kAhead]], 1);
    std::swap(perm_[i], perm_[swap_[i]]);
  }
  return batch_;
}

torch::Tensor gather_rows(const torch::Tensor& rows, const std::vector<int64_t>& idx) {
  const auto n = static_cast<int64_t>(idx.size());
  if ((rows.dim() == 1 || rows.dim() == 2) && rows.device().is_cpu() && rows.is_contiguous() &&
      (rows.scalar_type() == torch::kFloat32 || rows.scalar_type() == torch::kFloat64)) {
    const int64_t d = rows.dim() == 2 ? rows.size(1) : 1;
    auto out = rows.dim() == 2 ? torch::empty({n, d}, rows.options()) : torch::empty({n}, rows.options());
    if (rows.scalar_type() == torch::kFloat32) {
      gather(rows.data_ptr<float>(), d, idx, out.data_ptr<float>());
    } else {
      gather(rows.data_ptr<double>(), d, idx, out.data_ptr<double>());
    }
    return out;
  }
  auto t = torch::from_blob(const_cast<int64_t*>(idx.data()), {n}, torch::kInt64).to(rows.device());
  return rows.index_select(0, t);
}

}  // namespace gwflow::train
