#include "gwflow/examples/regression_data.hpp"

#include <torch/types.h>

#include <cmath>
#include <filesystem>

#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/sharded_file.hpp"
#include "gwflow/kernels/philox.hpp"
#include "gwflow/parallel/sharding.hpp"

namespace gwflow::examples {
namespace {

constexpr double kLow[3] = {0.0, -2.0, 0.0};
constexpr double kHigh[3] = {3.0, 2.0, 1.0};
// log of a bound on f: e^2 * max (1 + x) sin^2(pi x) = e^2 * 1.5165... < e^2 * e^0.42.
constexpr double kLogFMax = 2.0 + 0.42;

}  // namespace

double regression_log_z() { return 2.0 + std::log(2.25); }

double regression_log_f(const double x[3]) {
  const double s0 = std::sin(M_PI * x[0] / 3), c1 = std::cos(M_PI * x[1] / 4), s2 = std::sin(M_PI * x[2]);
  return 2.0 + std::log(s0 * s0) + std::log(c1 * c1) + std::log1p(x[2]) + std::log(s2 * s2);
}

void regression_row(uint64_t seed, uint64_t row, double x[3], double& log_f) {
  const kernels::RowRandom rng(seed, row);
  for (uint32_t attempt = 0;; ++attempt) {
    double u[4];
    rng.uniforms(2 * attempt, u[0], u[1]);
    rng.uniforms(2 * attempt + 1, u[2], u[3]);
    for (int d = 0; d < 3; ++d) x[d] = kLow[d] + (kHigh[d] - kLow[d]) * u[d];
    log_f = regression_log_f(x);
    if (std::log(u[3]) < log_f - kLogFMax) return;
  }
}

void write_regression_data(const std::string& path, int64_t n, uint64_t seed, const parallel::Communicator& comm) {
  io::make_directories(std::filesystem::path(path).parent_path().string(), comm);
  const auto shard = parallel::shard_rows(n, comm.rank(), comm.size());
  auto x = torch::empty({shard.count, 3}, torch::kFloat64);
  auto w = torch::empty({shard.count}, torch::kFloat64);
  for (int64_t i = 0; i < shard.count; ++i) {
    regression_row(seed, shard.offset + i, x.data_ptr<double>() + 3 * i, w.data_ptr<double>()[i]);
  }
  io::write_sharded_file(
      path, shard.offset, {{"/x", {n, 3}, x}, {"/log_pdf", {n}, w}},
      [seed](io::File& f) {
        f.write_attribute("/", "generator",
                          std::string("regression-3d: f = e^2 sin^2(pi x0/3) cos^2(pi x1/4) (1+x2) "
                                      "sin^2(pi x2) on [0,3]x[-2,2]x[0,1]; log_pdf = log f"));
        f.write_attribute("/", "log_Z", regression_log_z());
        f.write_attribute("/", "seed", static_cast<int64_t>(seed));
      },
      comm);
}

}  // namespace gwflow::examples
