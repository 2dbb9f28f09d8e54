#pragma once
// The regression example's data (docs/training.md sec. 3): points in the box
// [0, 3] x [-2, 2] x [0, 1] drawn from f(x) = e^2 sin^2(pi x0 / 3) cos^2(pi x1 / 4) (1 + x2) sin^2(pi x2),
// with the target log_pdf = log f(x). f is not normalised: its integral is Z = 2.25 e^2, so a
// perfect fit has constant C = log Z = 2 + log 2.25.
#include <cstdint>
#include <string>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::examples {

/// log of the normalisation of f over the box.
double regression_log_z();

/// log f(x) for x [3].
double regression_log_f(const double x[3]);

/// Row i: a point drawn from f/Z by rejection from the uniform box (a pure function of
/// (seed, i) via Philox4x32-10) and its log f.
void regression_row(uint64_t seed, uint64_t row, double x[3], double& log_f);

/// Collective: writes /x [n, 3], /log_pdf [n] and the attribute log_Z into `path` (atomically).
void write_regression_data(const std::string& path, int64_t n, uint64_t seed, const parallel::Communicator& comm);

}  // namespace gwflow::examples
