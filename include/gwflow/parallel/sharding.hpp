#pragma once
// Sharding arithmetic: which contiguous rows each rank owns, and each rank's share of a batch.
#include <cstdint>

namespace gwflow::parallel {

/// A contiguous range of global rows [offset, offset + count).
struct Shard {
  int64_t offset = 0;
  int64_t count = 0;
};

/// Rank `rank` of `size` gets a contiguous block; the first n % size ranks get one row more.
Shard shard_rows(int64_t n, int rank, int size);

/// A rank's share of a global batch of `batch` rows drawn from `n` rows, proportional to its
/// shard: floor(batch (offset + count) / n) - floor(batch offset / n). Shares sum to `batch`.
int64_t batch_share(int64_t batch, int64_t n, const Shard& shard);

}  // namespace gwflow::parallel
