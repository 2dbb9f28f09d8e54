#pragma once
// Standard-normal noise rows from the counter-based generator: row i depends only on (seed, i).
#include <cstdint>

namespace gwflow::kernels {

/// Fills `out` [count, dim] (row-major) with N(0, 1) noise for global rows row0 .. row0+count-1.
/// Row i uses Philox4x32-10 keyed by `seed` with counter (i, j): Box-Muller pairs j = 0, 1, ...
/// Runs as a Kokkos parallel_for on the default host execution space.
void standard_normal_rows(uint64_t seed, int64_t row0, int64_t count, int64_t dim, double* out);

}  // namespace gwflow::kernels
