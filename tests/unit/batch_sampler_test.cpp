// train::BatchSampler (the training batch draw) and gather_rows: distinct in-range indices, exact
// uniformity (chi-square over many draws, of which row lands in a batch and at which position),
// draws that depend only on the generator state (so a checkpointed generator reproduces them),
// and the gather against index_select.
#include <ATen/CPUGeneratorImpl.h>

#include <set>

#include "gwflow/errors.hpp"
#include "gwflow/train/batch_sampler.hpp"
#include "test_util.hpp"

namespace gwflow::train {
namespace {

TEST(BatchSampler, DrawsDistinctRowsInRange) {
  auto gen = at::detail::createCPUGenerator(1);
  for (auto [n, b] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {10, 10}, {1000, 7}, {5, 0}, {100000, 10000}}) {
    BatchSampler s(n, b);
    for (int rep = 0; rep < 3; ++rep) {
      const auto& idx = s.draw(gen);
      ASSERT_EQ(static_cast<int64_t>(idx.size()), b);
      std::set<int64_t> seen(idx.begin(), idx.end());
      EXPECT_EQ(static_cast<int64_t>(seen.size()), b) << "repeated rows";
      if (b > 0) {
        EXPECT_GE(*seen.begin(), 0);
        EXPECT_LT(*seen.rbegin(), n);
      }
    }
  }
  EXPECT_THROW(BatchSampler(3, 4), InternalError);
}

TEST(BatchSampler, IsUniformOverRowsAndPositions) {
  // n = 10, b = 3, 30 000 draws: every row is in a batch with probability 3/10 and at each
  // position with probability 1/10. Chi-square with 9 degrees of freedom: 27.9 is its 0.999
  // quantile; an off-by-one range (a row never left in place, or the last never reached) gives
  // thousands. The seed is fixed, so the test is deterministic. (A missing undo of the shuffle
  // would still be uniform: DependsOnlyOnTheGeneratorState catches that.)
  auto gen = at::detail::createCPUGenerator(12345);
  const int64_t n = 10, b = 3, draws = 30000;
  BatchSampler s(n, b);
  std::vector<std::vector<double>> at(b, std::vector<double>(n, 0.0));
  for (int64_t i = 0; i < draws; ++i) {
    const auto& idx = s.draw(gen);
    for (int64_t p = 0; p < b; ++p) at[p][idx[p]] += 1;
  }
  const double expected = static_cast<double>(draws) / n;
  for (int64_t p = 0; p < b; ++p) {
    double chi2 = 0;
    for (double c : at[p]) chi2 += (c - expected) * (c - expected) / expected;
    EXPECT_LT(chi2, 27.9) << "position " << p;
  }
}

TEST(BatchSampler, DependsOnlyOnTheGeneratorState) {
  auto gen = at::detail::createCPUGenerator(7);
  BatchSampler a(5000, 300);
  a.draw(gen);
  a.draw(gen);
  auto state = gen.get_state();
  const auto next = a.draw(gen);
  // A fresh sampler (a restarted run) with the saved generator state draws the same batch.
  auto restored = at::detail::createCPUGenerator(0);
  restored.set_state(state);
  BatchSampler b(5000, 300);
  EXPECT_EQ(b.draw(restored), next);
}

TEST(BatchSampler, GatherRowsMatchesIndexSelect) {
  auto gen = at::detail::createCPUGenerator(3);
  BatchSampler s(200, 50);
  const auto& idx = s.draw(gen);
  auto t = torch::from_blob(const_cast<int64_t*>(idx.data()), {50}, torch::kInt64).clone();
  for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto rows = torch::randn({200, 3}, dtype);
    EXPECT_TRUE(torch::equal(gather_rows(rows, idx), rows.index_select(0, t)));
    auto w = torch::randn({200}, dtype);
    EXPECT_TRUE(torch::equal(gather_rows(w, idx), w.index_select(0, t)));
  }
  auto ints = torch::arange(400, torch::kInt64).view({200, 2});  // the index_select path
  EXPECT_TRUE(torch::equal(gather_rows(ints, idx), ints.index_select(0, t)));
}

}  // namespace
}  // namespace gwflow::train
