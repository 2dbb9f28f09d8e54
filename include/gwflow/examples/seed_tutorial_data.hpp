#pragma once
// The seed tutorial's data set (docs/training.md sec. 2.2): column 0 ~ Exp(1), column 1 ~ N(0, 1).
#include <cstdint>
#include <string>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::examples {

/// Row i of the data set: a pure function of (seed, i) via Philox4x32-10.
void seed_tutorial_row(uint64_t seed, uint64_t row, double out[2]);

/// Collective: writes `n` rows into `path`:/x [n, 2] (float64), each rank its own shard,
/// atomically (partial name, then rename). The file is identical for any number of ranks.
void write_seed_tutorial_data(const std::string& path, int64_t n, uint64_t seed, const parallel::Communicator& comm);

}  // namespace gwflow::examples
