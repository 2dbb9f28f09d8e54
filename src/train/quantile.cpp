#include "gwflow/train/quantile.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "gwflow/errors.hpp"

namespace gwflow::train {
namespace {

// Order-preserving map from doubles to unsigned integers (and back).
uint64_t key_of(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b >> 63) ? ~b : (b | 0x8000000000000000ull);
}

double value_of(uint64_t k) {
  const uint64_t b = (k >> 63) ? (k & 0x7fffffffffffffffull) : ~k;
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

/// The k-th smallest (0-based) of all ranks' sorted values: the smallest key t with
/// count(values <= t) > k.
double order_statistic(const std::vector<double>& sorted, int64_t k, const parallel::Communicator& comm) {
  uint64_t lo = 0, hi = std::numeric_limits<uint64_t>::max();
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    int64_t count = 0;
    size_t a = 0, b = sorted.size();
    while (a < b) {
      const size_t m = (a + b) / 2;
      if (key_of(sorted[m]) <= mid) {
        a = m + 1;
      } else {
        b = m;
      }
    }
    count = comm.sum(static_cast<int64_t>(a));
    if (count > k) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return value_of(lo);
}

}  // namespace

double global_quantile(const torch::Tensor& local, double q, const parallel::Communicator& comm) {
  auto v = local.to(torch::kFloat64).contiguous().reshape({-1});
  int64_t bad = (~torch::isfinite(v)).sum().item<int64_t>();
  bad = comm.sum(bad);
  if (bad > 0) throw DomainError("quantile: " + std::to_string(bad) + " values are not finite");
  const int64_t n = comm.sum(static_cast<int64_t>(v.numel()));
  if (n == 0) throw DomainError("quantile of an empty set");
  auto sorted_t = std::get<0>(v.sort());
  std::vector<double> sorted(sorted_t.data_ptr<double>(), sorted_t.data_ptr<double>() + sorted_t.numel());
  const double pos = q * static_cast<double>(n - 1);
  const auto lo = static_cast<int64_t>(std::floor(pos));
  const int64_t hi = std::min<int64_t>(lo + 1, n - 1);
  const double a = order_statistic(sorted, lo, comm);
  const double b = hi == lo ? a : order_statistic(sorted, hi, comm);
  // torch.quantile interpolates with at::lerp (whose CPU kernel may fuse multiply-adds): call
  // the same kernel on one-element tensors so the result is torch.quantile's to the last bit.
  const double w = pos - static_cast<double>(lo);
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  return torch::lerp(torch::full({1}, a, opts), torch::full({1}, b, opts), torch::full({1}, w, opts)).item<double>();
}

}  // namespace gwflow::train
