#include "gwflow/parallel/sharding.hpp"

namespace gwflow::parallel {

Shard shard_rows(int64_t n, int rank, int size) {
  const int64_t base = n / size, extra = n % size;
  Shard s;
  s.count = base + (rank < extra ? 1 : 0);
  s.offset = rank * base + (rank < extra ? rank : extra);
  return s;
}

int64_t batch_share(int64_t batch, int64_t n, const Shard& shard) {
  if (n <= 0) return 0;
  // 128-bit products: batch * n can exceed 2^63 for huge datasets.
  const auto hi = static_cast<__int128>(batch) * (shard.offset + shard.count) / n;
  const auto lo = static_cast<__int128>(batch) * shard.offset / n;
  return static_cast<int64_t>(hi - lo);
}

}  // namespace gwflow::parallel
