#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/generation.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/app/resumable_rounds.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/generation_file.hpp"
#include "gwflow/io/output_lock.hpp"
#include "gwflow/io/sha256.hpp"
#include "gwflow/kernels/backend_choice.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/kernels/noise.hpp"
#include "gwflow/parallel/device.hpp"
#include "gwflow/parallel/signals.hpp"
#include "gwflow/version.hpp"

namespace gwflow::app {
namespace {

// Progress counters stored in the file.
enum Counter { kNonFinite = 0, kRejected = 1, kAccepted = 2 };  // io::Progress::counters

/// What the ranks count in one round, summed over them in one allreduce.
struct RoundCounts {
  int64_t non_finite = 0;  ///< candidates without a density, or on or outside the flow's box
  int64_t rejected = 0;    ///< outside sample.boundaries
  int64_t accepted = 0;
  RoundFlags flags;
};

std::string box_text(const config::Box& b) {
  std::ostringstream s;
  s.precision(17);
  for (double v : b.low) s << v << ",";
  s << ";";
  for (double v : b.high) s << v << ",";
  return s.str();
}

}  // namespace

int run_sample(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("sample: expected one CONFIG.toml");
  const Log log(comm);
  const config::Config cfg = config::load_config(cl.positional[0], cl.overrides);
  const auto& sc = cfg.sample;
  flow::Flow flow = load_flow(sc.weights, "sample.weights", sc.dtype);
  torch::NoGradGuard no_grad;
  const std::string sha = io::sha256_file(sc.weights);
  const int64_t dim = flow->architecture().dim;
  const bool bounded = sc.boundaries.has_value();
  torch::Tensor low, high;
  if (bounded) {
    if (static_cast<int64_t>(sc.boundaries->low.size()) != dim) {
      throw ConfigError("sample.boundaries has " + std::to_string(sc.boundaries->low.size()) +
                        " dimensions but the flow in " + sc.weights + " has D = " + std::to_string(dim));
    }
    low = torch::tensor(sc.boundaries->low, torch::kFloat64).to(flow->dtype());
    high = torch::tensor(sc.boundaries->high, torch::kFloat64).to(flow->dtype());
  }
  const torch::Device device = parallel::select_device(sc.device, "sample.device", comm);
  if (device.is_cuda()) flow->to(device);  // the samples come back to the host, where boxes are compared
  auto backend = kernels::choose_backend(sc.backend, *flow, device, "sample.backend", "sample");
  if (!backend.note.empty()) log.warn(backend.note);
  const std::unique_ptr<kernels::KernelFlow> kernel = std::move(backend.kernel);
  const std::string dtype_name = config::name_of(sc.dtype), backend_name = config::name_of(backend.used);
  const int64_t max_candidates = sc.max_candidates > 0 ? sc.max_candidates : 1000 * sc.n + 1000000;

  io::OutputIdentity identity{
      "gwflow " + std::string(kVersion) + " sample; weights sha256 " + sha + "; D " + std::to_string(dim) + "; n " +
      std::to_string(sc.n) + "; seed " + std::to_string(sc.seed) + "; dtype " + dtype_name + "; backend " +
      config::name_of(sc.backend) + (bounded ? "; boundaries " + box_text(*sc.boundaries) : "") +
      "; density at the stored point, strictly inside the box"};
  print_run_header(log, comm, "sample", backend_name, config::to_toml(cfg));
  io::make_directories(std::filesystem::path(sc.out).parent_path().string(), comm);
  std::string lock_note;
  const io::OutputLock lock(sc.out, io::OutputLock::beside(sc.out), comm, lock_note);  // held to the end
  if (!lock_note.empty()) log.warn(lock_note);
  io::OutputAttributes attributes{provenance(sc.weights, sha, sc.seed, sc.dtype, cfg), {}};
  {
    // mbank's variable format, when the training data (from import-dataset) records it; the
    // training file is optional here, so a missing or unreadable one only leaves it out.
    std::unique_ptr<io::File> train;
    try {
      if (!cfg.data.train.empty()) train = std::make_unique<io::File>(cfg.data.train.file, io::File::Mode::kRead);
    } catch (const IoError&) {
    }
    add_column_attributes(attributes, cfg, dim, sc.weights, train.get());
  }
  std::string note;
  io::GenerationFile out(sc.out, {{"/samples", {sc.n, dim}, flow->dtype()}, {"/log_prob", {sc.n}, flow->dtype()}},
                         identity, attributes, cl.options.count("--overwrite") > 0, comm, note);
  if (!note.empty()) log.warn(note);
  if (out.state() == io::GenerationFile::State::kComplete) {
    log.info("sample: " + sc.out + " is already complete for this config, weights and seed; nothing to do");
    return 0;
  }
  io::Progress p = out.progress();
  if (out.state() == io::GenerationFile::State::kResumed) {
    log.info("sample: resuming " + io::partial_path(sc.out) + " at " + std::to_string(p.rows_written) + " of " +
             std::to_string(sc.n) + " rows");
  }

  const int64_t block = sc.block_size, ranks = comm.size(), rank = comm.rank();
  log.info("sample: " + std::to_string(sc.n) + " rows of D=" + std::to_string(dim) + " (" + dtype_name + ") from " +
           sc.weights + " into " + sc.out + ", blocks of " + std::to_string(block) + " rows on " +
           std::to_string(ranks) + " rank(s), backend " + backend_name + (bounded ? ", within sample.boundaries" : ""));
  auto z = torch::empty({block, dim}, torch::kFloat64);
  const torch::Tensor box_low = flow->box()->low().detach().to(torch::kCPU, flow->dtype());
  const torch::Tensor box_high = flow->box()->high().detach().to(torch::kCPU, flow->dtype());
  ResumableRounds rounds(comm, "sample", sc.n, [](const io::Progress& q) { return q.rows_written; });
  auto sample_round = [&](io::Progress& p, RoundFlags& flags) {
    // One round: rank r maps candidate rows [done + r B, done + (r + 1) B); the accepted ones
    // are written in candidate order, so the file does not depend on the number of ranks.
    const int64_t begin = p.rows_done + rank * block, count = block;
    kernels::standard_normal_rows(static_cast<uint64_t>(sc.seed), begin, count, dim, z.data_ptr<double>());
    torch::Tensor x;
    if (kernel) {
      x = kernel->sample_and_log_prob_from_noise(z.narrow(0, 0, count)).x;  // per-row code: no padding
    } else {
      const PaddedRows noise = pad_rows(z.narrow(0, 0, count), begin);
      x = flow->sample_and_log_prob_from_noise(noise.rows.to(device)).x.narrow(0, noise.lead, count).cpu();
    }
    // What is stored is the point rounded to the file's dtype, and its density is evaluated
    // there, by the same code as logprob: a point that rounding put on or outside the box (or a
    // non-finite one) has no density and is not stored; the next candidates take its place.
    const torch::Tensor lp = log_prob_at(*flow, kernel.get(), x, begin, device);
    // Strictly inside the box, compared exactly in the stored dtype (the transform's own float32
    // arithmetic can give a point on the edge a finite density).
    auto inside = torch::isfinite(lp) & ((x > box_low) & (x < box_high)).all(1);
    RoundCounts round;
    round.non_finite = count - inside.sum().item<int64_t>();
    round.flags = flags;
    auto keep = inside;
    if (bounded) {
      keep = keep & ((x > low) & (x < high)).all(1);
      round.rejected = count - round.non_finite - keep.sum().item<int64_t>();
    }
    auto idx = keep.nonzero().squeeze(1);
    const int64_t accepted = idx.size(0);
    const int64_t offset = p.rows_written + comm.exclusive_prefix_sum(accepted);
    const int64_t take = std::clamp<int64_t>(sc.n - offset, 0, accepted);
    auto idx_take = idx.narrow(0, 0, take);
    const torch::Tensor x_take = x.index_select(0, idx_take);
    // LibTorch's last bits depend on a row's place modulo 64 (pad_rows): where a stored row's place
    // in the file differs from its candidate place, its density is evaluated again there, where
    // logprob will evaluate it. Without rejections before it and with places 64 apart (the
    // default block size), the candidate densities are those already.
    const bool same_places =
        take == 0 || ((offset - begin) % 64 == 0 && idx_take[take - 1].item<int64_t>() == take - 1);
    const torch::Tensor lp_take =
        kernel || same_places ? lp.index_select(0, idx_take) : log_prob_at(*flow, nullptr, x_take, offset, device);
    out.file().write_rows("/samples", offset, x_take);
    out.file().write_rows("/log_prob", offset, lp_take);
    round.accepted = accepted;
    comm.sum_fields<int64_t>(round);
    p.counters[kNonFinite] += round.non_finite;
    p.counters[kRejected] += round.rejected;
    p.counters[kAccepted] += round.accepted;
    p.rows_written = std::min(sc.n, p.rows_written + round.accepted);
    p.rows_done += ranks * block;
    flags = round.flags;
  };
  auto give_up = [&](const io::Progress& p) {
    if (p.rows_written < sc.n) {
      const std::string where = bounded ? "sample.boundaries" : "the flow's box";
      if (p.rows_done >= 1000000 && p.rows_written == 0) {
        throw DomainError("sample: none of " + std::to_string(p.rows_done) + " candidates fell strictly inside " +
                          where + (bounded ? "; the flow does not reach it" : " after rounding to " + dtype_name));
      }
      if (p.rows_done >= max_candidates) {
        throw DomainError(
            "sample: only " + std::to_string(p.rows_written) + " of " + std::to_string(sc.n) +
            " samples accepted after " + std::to_string(p.rows_done) + " candidates (sample.max_candidates); " +
            (bounded ? "the box is too small for this flow" : "the flow's samples pile up on its box's edge"));
      }
    }
  };
  const RoundsOutcome outcome = rounds.run(out, p, sample_round, give_up);
  if (outcome.stopped) return kExitStoppedBySignal;
  const double secs = outcome.seconds, rss = outcome.peak_rss_mib;
  const int64_t written = p.rows_written - outcome.start;
  char buf[400];
  out.finish();
  // (summary lines below are printed in quiet mode too)
  std::snprintf(buf, sizeof buf,
                "sample: wrote %lld samples (D=%lld, %s) to %s in %s (%.3g samples/s on %d rank(s), peak RSS %.0f MiB "
                "per rank)",
                static_cast<long long>(written), static_cast<long long>(dim), dtype_name.c_str(), sc.out.c_str(),
                format_seconds(secs).c_str(), written / std::max(secs, 1e-9), comm.size(), rss);
  log.summary(buf);
  if (bounded) {
    std::snprintf(buf, sizeof buf,
                  "sample: acceptance %.4g (%lld candidates for %lld samples inside sample.boundaries)",
                  static_cast<double>(p.counters[kAccepted]) /
                      std::max<int64_t>(p.counters[kAccepted] + p.counters[kRejected], 1),
                  static_cast<long long>(p.counters[kAccepted] + p.counters[kRejected]), static_cast<long long>(sc.n));
    log.info(buf);
  }
  if (p.counters[kNonFinite] > 0) {
    log.info("sample: " + std::to_string(p.counters[kNonFinite]) +
             " candidates lay on or outside the flow's box once " + "rounded to " + dtype_name +
             " (no density there) and were replaced by the next ones");
  }
  return 0;
}

}  // namespace gwflow::app
