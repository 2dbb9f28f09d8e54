#include <chrono>
#include <filesystem>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/generation.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/sha256.hpp"
#include "gwflow/kernels/philox.hpp"
#include "gwflow/parallel/sharding.hpp"

namespace gwflow::app {

int run_sample(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("sample: expected one CONFIG.toml");
  const Log log(comm);
  const config::Config cfg = config::load_config(cl.positional[0], cl.overrides);
  const auto& sc = cfg.sample;
  if (sc.boundaries) {
    throw ConfigError("sample.boundaries: sampling within boundaries is not supported by this version");
  }
  flow::Flow flow = load_flow(sc.weights, sc.dtype);
  torch::NoGradGuard no_grad;
  const std::string sha = io::sha256_file(sc.weights);
  const int64_t dim = flow->architecture().dim;
  const auto shard = parallel::shard_rows(sc.n, comm.rank(), comm.size());
  double blocks = static_cast<double>((shard.count + sc.block_size - 1) / sc.block_size);
  comm.max(&blocks, 1);  // every rank joins every collective write
  const auto dtype = flow->dtype();

  make_directories_collective(std::filesystem::path(sc.out).parent_path().string(), comm);
  const std::string tmp = io::partial_path(sc.out);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t nonfinite = 0;
  {
    io::File f(tmp, io::File::Mode::kCreate, &comm);
    f.create_dataset("/samples", {sc.n, dim}, dtype);
    f.create_dataset("/log_prob", {sc.n}, dtype);
    auto z = torch::empty({std::min(sc.block_size, shard.count), dim}, torch::kFloat64);
    for (int64_t b = 0; b < static_cast<int64_t>(blocks); ++b) {
      const int64_t begin = std::min(shard.count, b * sc.block_size);
      const int64_t count = std::min(sc.block_size, shard.count - begin);
      auto* zp = z.data_ptr<double>();
      for (int64_t i = 0; i < count; ++i) {
        const kernels::RowRandom rng(static_cast<uint64_t>(sc.seed), static_cast<uint64_t>(shard.offset + begin + i));
        for (int64_t j = 0; j < dim; j += 2) {
          double n1, n2;
          rng.normals(static_cast<uint32_t>(j / 2), n1, n2);
          zp[i * dim + j] = n1;
          if (j + 1 < dim) zp[i * dim + j + 1] = n2;
        }
      }
      auto s = flow->sample_and_log_prob_from_noise(z.narrow(0, 0, count));
      nonfinite += count - torch::isfinite(s.log_prob).sum().item<int64_t>();
      f.write_rows("/samples", shard.offset + begin, s.x);
      f.write_rows("/log_prob", shard.offset + begin, s.log_prob);
    }
    write_provenance(f, sc.weights, sha, sc.seed, sc.dtype, cfg);
    f.write_attribute("/", "n", sc.n);
    f.close();
  }
  comm.barrier();
  if (comm.is_root()) io::commit_file(tmp, sc.out);
  comm.barrier();
  nonfinite = comm.sum(nonfinite);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rss = peak_rss_mib(comm);
  char buf[320];
  std::snprintf(buf, sizeof buf, "sample: wrote %lld samples (D=%lld, %s) to %s in %s (%.3g samples/s on %d rank(s), peak RSS %.0f MiB per rank)",
                static_cast<long long>(sc.n), static_cast<long long>(dim), sc.dtype.c_str(), sc.out.c_str(),
                format_seconds(s).c_str(), sc.n / std::max(s, 1e-9), comm.size(), rss);
  log.info(buf);
  if (nonfinite > 0) log.warn(std::to_string(nonfinite) + " samples have a non-finite log_prob");
  return 0;
}

}  // namespace gwflow::app
