#include <chrono>
#include <filesystem>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/generation.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/sha256.hpp"
#include "gwflow/parallel/sharding.hpp"

namespace gwflow::app {

int run_logprob(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("logprob: expected one CONFIG.toml");
  const Log log(comm);
  const config::Config cfg = config::load_config(cl.positional[0], cl.overrides);
  const auto& lc = cfg.logprob;
  if (lc.input.empty()) throw ConfigError("logprob.input is not set (\"FILE.h5:/dataset\")");
  flow::Flow flow = load_flow(lc.weights, lc.dtype);
  torch::NoGradGuard no_grad;
  const std::string sha = io::sha256_file(lc.weights);
  const int64_t dim = flow->architecture().dim;

  io::File in(lc.input.file, io::File::Mode::kRead, &comm);
  const auto dims = in.dims(lc.input.path);
  if (dims.size() != 2 || dims[1] != dim) {
    throw DomainError(lc.input.str() + ": expected points [N, " + std::to_string(dim) + "] for the flow in " +
                      lc.weights);
  }
  const int64_t n = dims[0];
  const auto shard = parallel::shard_rows(n, comm.rank(), comm.size());
  double blocks = static_cast<double>((shard.count + lc.block_size - 1) / lc.block_size);
  comm.max(&blocks, 1);
  const auto dtype = flow->dtype();

  make_directories_collective(std::filesystem::path(lc.out).parent_path().string(), comm);
  const std::string tmp = io::partial_path(lc.out);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t counts[2] = {0, 0};  // outside the box (-inf), NaN
  {
    io::File f(tmp, io::File::Mode::kCreate, &comm);
    f.create_dataset("/log_prob", {n}, dtype);
    if (lc.noise) f.create_dataset("/z", {n, dim}, dtype);
    for (int64_t b = 0; b < static_cast<int64_t>(blocks); ++b) {
      const int64_t begin = std::min(shard.count, b * lc.block_size);
      const int64_t count = std::min(lc.block_size, shard.count - begin);
      auto x = in.read_rows(lc.input.path, shard.offset + begin, count);
      auto lp = flow->log_prob(x);
      counts[0] += torch::isneginf(lp).sum().item<int64_t>();
      counts[1] += torch::isnan(lp).sum().item<int64_t>();
      f.write_rows("/log_prob", shard.offset + begin, lp);
      if (lc.noise) f.write_rows("/z", shard.offset + begin, flow->transform_to_noise(x));
    }
    write_provenance(f, lc.weights, sha, 0, lc.dtype, cfg);
    f.write_attribute("/", "input", lc.input.str());
    f.close();
  }
  comm.barrier();
  if (comm.is_root()) io::commit_file(tmp, lc.out);
  comm.barrier();
  comm.sum(counts, 2);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rss = peak_rss_mib(comm);
  char buf[320];
  std::snprintf(buf, sizeof buf, "logprob: wrote %lld log densities to %s in %s (%.3g points/s on %d rank(s), peak RSS %.0f MiB per rank)",
                static_cast<long long>(n), lc.out.c_str(), format_seconds(s).c_str(), n / std::max(s, 1e-9),
                comm.size(), rss);
  log.info(buf);
  if (counts[0] > 0) log.warn(std::to_string(counts[0]) + " points lie outside the flow's box: log_prob = -inf");
  if (counts[1] > 0) log.warn(std::to_string(counts[1]) + " points contain NaN: log_prob = NaN");
  return 0;
}

}  // namespace gwflow::app
