#include "gwflow/examples/seed_tutorial_data.hpp"

#include <cmath>
#include <filesystem>

#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/sharded_file.hpp"
#include "gwflow/kernels/philox.hpp"
#include "gwflow/parallel/sharding.hpp"

namespace gwflow::examples {

void seed_tutorial_row(uint64_t seed, uint64_t row, double out[2]) {
  const kernels::RowRandom rng(seed, row);
  double u1, u2, n1, n2;
  rng.uniforms(0, u1, u2);
  rng.normals(1, n1, n2);
  out[0] = -std::log(u1);
  out[1] = n1;
}

void write_seed_tutorial_data(const std::string& path, int64_t n, uint64_t seed, const parallel::Communicator& comm) {
  io::make_directories(std::filesystem::path(path).parent_path().string(), comm);
  const auto shard = parallel::shard_rows(n, comm.rank(), comm.size());
  auto rows = torch::empty({shard.count, 2}, torch::kFloat64);
  auto* p = rows.data_ptr<double>();
  for (int64_t i = 0; i < shard.count; ++i) seed_tutorial_row(seed, shard.offset + i, p + 2 * i);
  io::write_sharded_file(
      path, shard.offset, {{"/x", {n, 2}, rows}},
      [seed](io::File& f) {
        f.write_attribute("/", "generator", std::string("seed-tutorial: x0 ~ Exp(1), x1 ~ N(0,1), Philox4x32-10"));
        f.write_attribute("/", "seed", static_cast<int64_t>(seed));
      },
      comm);
}

}  // namespace gwflow::examples
