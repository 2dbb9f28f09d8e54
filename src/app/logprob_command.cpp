#include "gwflow/app/commands.hpp"
#include "gwflow/app/generation.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/app/resumable_rounds.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/generation_file.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/version.hpp"

namespace gwflow::app {
namespace {

enum Counter { kOutside = 0, kNaN = 1 };  // io::Progress::counters

/// What the ranks count in one round, summed over them in one allreduce.
struct RoundCounts {
  int64_t outside = 0;  ///< log_prob = -inf: on or outside the flow's box
  int64_t nan = 0;      ///< log_prob = NaN: the point holds a NaN
  RoundFlags flags;
};

/// The closing lines (printed in quiet mode too).
void report(const config::LogprobConfig& lc, int64_t n, const io::Progress& p, const RoundsOutcome& outcome,
            const Log& log, const parallel::Communicator& comm) {
  const int64_t done = n - outcome.start;
  char buf[400];
  std::snprintf(
      buf, sizeof buf,
      "logprob: wrote %lld log densities to %s in %s (%.3g points/s on %d rank(s), peak RSS %.0f MiB per rank)",
      static_cast<long long>(done), lc.out.c_str(), format_seconds(outcome.seconds).c_str(),
      done / std::max(outcome.seconds, 1e-9), comm.size(), outcome.peak_rss_mib);
  log.summary(buf);
  if (p.counters[kOutside] > 0) {
    log.warn(std::to_string(p.counters[kOutside]) + " points lie outside the flow's box: log_prob = -inf");
  }
  if (p.counters[kNaN] > 0) log.warn(std::to_string(p.counters[kNaN]) + " points contain NaN: log_prob = NaN");
}

}  // namespace

int run_logprob(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("logprob: expected one CONFIG.toml");
  const Log log(comm);
  const config::Config cfg = config::load_config(cl.positional[0], cl.overrides);
  const auto& lc = cfg.logprob;
  if (lc.input.empty()) throw ConfigError("logprob.input is not set (\"FILE.h5:/dataset\")");
  if (io::same_file(lc.out, lc.input.file)) {
    throw ConfigError("logprob.out = \"" + lc.out + "\" is the input file (logprob.input): choose another output");
  }
  torch::NoGradGuard no_grad;
  // Everything that can be wrong with the config or the input is found before any output exists.
  GenerationModel model = load_generation_model("logprob", lc.weights, lc.dtype, lc.device, lc.backend, log, comm);
  flow::FlowImpl& flow = *model.flow;
  const int64_t dim = flow.architecture().dim;

  io::File in(lc.input.file, io::File::Mode::kRead, &comm);
  const auto dims = in.dims(lc.input.path);
  if (dims.size() != 2 || dims[1] != dim) {
    throw DomainError(lc.input.str() + ": expected points [N, " + std::to_string(dim) + "] for the flow in " +
                      lc.weights);
  }
  const int64_t n = dims[0];
  std::vector<io::OutputDataset> datasets{{"/log_prob", {n}, flow.dtype()}};
  if (lc.noise) datasets.push_back({"/z", {n, dim}, flow.dtype()});
  io::OutputIdentity identity{"gwflow " + std::string(kVersion) + " logprob; weights sha256 " + model.sha256 +
                              "; input " + lc.input.str() + " " + io::file_fingerprint(lc.input.file) + "; N " +
                              std::to_string(n) + "; dtype " + config::name_of(lc.dtype) + "; backend " +
                              config::name_of(lc.backend) + "; noise " + (lc.noise ? "yes" : "no")};
  io::OutputAttributes attributes{provenance(lc.weights, model.sha256, 0, lc.dtype, cfg), {}};
  attributes.text.emplace_back("input", lc.input.str());
  add_column_attributes(attributes, cfg, dim, lc.weights, &in);
  print_run_header(log, comm, "logprob", model.backend, config::to_toml(cfg));

  const ClaimedOutput claimed =
      claim_output(lc.out, datasets, identity, attributes, cl.options.count("--overwrite") > 0, log, comm);
  io::GenerationFile& out = *claimed.file;
  if (out.state() == io::GenerationFile::State::kComplete) {
    log.info("logprob: " + lc.out + " is already complete for this input and weights; nothing to do");
    return 0;
  }
  io::Progress p = out.progress();
  if (out.state() == io::GenerationFile::State::kResumed) {
    log.info("logprob: resuming " + io::partial_path(lc.out) + " at row " + std::to_string(p.rows_done) + " of " +
             std::to_string(n));
  }

  const int64_t block = lc.block_size, ranks = comm.size(), rank = comm.rank();
  log.info("logprob: " + std::to_string(n) + " points of " + lc.input.str() + " into " + lc.out + ", blocks of " +
           std::to_string(block) + " rows on " + std::to_string(ranks) + " rank(s), backend " + model.backend);
  ResumableRounds rounds(comm, "logprob", n, [](const io::Progress& q) { return q.rows_done; });
  auto logprob_round = [&](io::Progress& p, RoundFlags& flags) {
    const int64_t begin = std::min(n, p.rows_done + rank * block);
    const int64_t count = std::clamp<int64_t>(n - begin, 0, block);
    auto x = in.read_rows(lc.input.path, begin, count);
    torch::Tensor z;
    const torch::Tensor lp = log_prob_at(flow, model.kernel.get(), x, begin, model.device, lc.noise ? &z : nullptr);
    RoundCounts round{torch::isneginf(lp).sum().item<int64_t>(), torch::isnan(lp).sum().item<int64_t>(), flags};
    out.file().write_rows("/log_prob", begin, lp);
    if (lc.noise) out.file().write_rows("/z", begin, z);
    comm.sum_fields<int64_t>(round);
    p.counters[kOutside] += round.outside;
    p.counters[kNaN] += round.nan;
    p.rows_done = std::min(n, p.rows_done + ranks * block);
    p.rows_written = p.rows_done;
    flags = round.flags;
  };
  const RoundsOutcome outcome = rounds.run(out, p, logprob_round);
  if (outcome.stopped) return kExitStoppedBySignal;
  out.finish();
  report(lc, n, p, outcome, log, comm);
  return 0;
}

}  // namespace gwflow::app
