// parallel/sharding: rows and batch shares cover everything once.
#include "gwflow/parallel/sharding.hpp"
#include "test_files.hpp"

namespace gwflow {
namespace {

TEST(Sharding, RowsAndBatchSharesCoverEverythingOnce) {
  for (int size : {1, 2, 3, 7}) {
    for (int64_t n : {1, 10, 90000, 100003}) {
      if (n < size) continue;
      int64_t next = 0, batch_total = 0;
      for (int r = 0; r < size; ++r) {
        auto s = parallel::shard_rows(n, r, size);
        EXPECT_EQ(s.offset, next);
        next += s.count;
        batch_total += parallel::batch_share(std::min<int64_t>(n, 10000), n, s);
      }
      EXPECT_EQ(next, n);
      EXPECT_EQ(batch_total, std::min<int64_t>(n, 10000));
    }
  }
}

}  // namespace
}  // namespace gwflow
