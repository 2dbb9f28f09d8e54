#include <filesystem>
#include <sstream>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/generation.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/app/resumable_rounds.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/generation_file.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/kernels/noise.hpp"
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

/// The rounds of a sample run (docs/files.md sec. 6.3): rank r maps candidate rows
/// [done + r B, done + (r + 1) B) of the counter-based noise; the accepted ones are written in
/// candidate order, so the file does not depend on the number of ranks or the block size.
class SampleRounds {
 public:
  SampleRounds(const config::SampleConfig& sc, GenerationModel& model, io::GenerationFile& out,
               const parallel::Communicator& comm)
      : sc_(sc), m_(model), out_(out), comm_(comm), dim_(model.flow->architecture().dim),
        z_(torch::empty({sc.block_size, dim_}, torch::kFloat64)),
        box_low_(model.flow->box()->low().detach().to(torch::kCPU, model.flow->dtype())),
        box_high_(model.flow->box()->high().detach().to(torch::kCPU, model.flow->dtype())) {
    if (sc.boundaries) {  // of D dimensions (run_sample checks)
      low_ = torch::tensor(sc.boundaries->low, torch::kFloat64).to(model.flow->dtype());
      high_ = torch::tensor(sc.boundaries->high, torch::kFloat64).to(model.flow->dtype());
    }
  }

  /// One round on every rank. Collective.
  void round(io::Progress& p, RoundFlags& flags) {
    const int64_t block = sc_.block_size;
    const int64_t begin = p.rows_done + comm_.rank() * block, count = block;
    const torch::Tensor x = candidates(begin, count);
    // What is stored is the point rounded to the file's dtype, and its density is evaluated
    // there, by the same code as logprob: a point that rounding put on or outside the box (or a
    // non-finite one) has no density and is not stored; the next candidates take its place.
    const torch::Tensor lp = log_prob_at(*m_.flow, m_.kernel.get(), x, begin, m_.device);
    // Strictly inside the box, compared exactly in the stored dtype (the transform's own float32
    // arithmetic can give a point on the edge a finite density).
    auto inside = torch::isfinite(lp) & ((x > box_low_) & (x < box_high_)).all(1);
    RoundCounts round;
    round.non_finite = count - inside.sum().item<int64_t>();
    round.flags = flags;
    auto keep = inside;
    if (low_.defined()) {
      keep = keep & ((x > low_) & (x < high_)).all(1);
      round.rejected = count - round.non_finite - keep.sum().item<int64_t>();
    }
    auto idx = keep.nonzero().squeeze(1);
    round.accepted = idx.size(0);
    const int64_t offset = p.rows_written + comm_.exclusive_prefix_sum(round.accepted);
    const int64_t take = std::clamp<int64_t>(sc_.n - offset, 0, round.accepted);
    write(x, lp, idx.narrow(0, 0, take), begin, offset);
    comm_.sum_fields<int64_t>(round);
    p.counters[kNonFinite] += round.non_finite;
    p.counters[kRejected] += round.rejected;
    p.counters[kAccepted] += round.accepted;
    p.rows_written = std::min(sc_.n, p.rows_written + round.accepted);
    p.rows_done += comm_.size() * block;
    flags = round.flags;
  }

  /// Throws DomainError when the candidates will not fill the output: none inside after a
  /// million, or sample.max_candidates spent.
  void give_up(const io::Progress& p) const {
    if (p.rows_written >= sc_.n) return;
    const bool bounded = low_.defined();
    const std::string where = bounded ? "sample.boundaries" : "the flow's box";
    if (p.rows_done >= 1000000 && p.rows_written == 0) {
      throw DomainError(
          "sample: none of " + std::to_string(p.rows_done) + " candidates fell strictly inside " + where +
          (bounded ? "; the flow does not reach it" : " after rounding to " + std::string(config::name_of(sc_.dtype))));
    }
    const int64_t max_candidates = sc_.max_candidates > 0 ? sc_.max_candidates : 1000 * sc_.n + 1000000;
    if (p.rows_done >= max_candidates) {
      throw DomainError(
          "sample: only " + std::to_string(p.rows_written) + " of " + std::to_string(sc_.n) +
          " samples accepted after " + std::to_string(p.rows_done) + " candidates (sample.max_candidates); " +
          (bounded ? "the box is too small for this flow" : "the flow's samples pile up on its box's edge"));
    }
  }

 private:
  /// The flow's points for candidate rows [begin, begin + count), on the host in its dtype.
  torch::Tensor candidates(int64_t begin, int64_t count) {
    kernels::standard_normal_rows(static_cast<uint64_t>(sc_.seed), begin, count, dim_, z_.data_ptr<double>());
    if (m_.kernel) return m_.kernel->sample_and_log_prob_from_noise(z_.narrow(0, 0, count)).x;  // per-row code
    const PaddedRows noise = pad_rows(z_.narrow(0, 0, count), begin);
    return m_.flow->sample_and_log_prob_from_noise(noise.rows.to(m_.device)).x.narrow(0, noise.lead, count).cpu();
  }

  /// Writes the candidates `idx` of this round (candidate row `begin` first) at file row `offset`.
  void write(const torch::Tensor& x, const torch::Tensor& lp, const torch::Tensor& idx, int64_t begin, int64_t offset) {
    const int64_t take = idx.size(0);
    const torch::Tensor x_take = x.index_select(0, idx);
    // LibTorch's last bits depend on a row's place modulo 64 (pad_rows): where a stored row's place
    // in the file differs from its candidate place, its density is evaluated again there, where
    // logprob will evaluate it. Without rejections before it and with places 64 apart (the
    // default block size), the candidate densities are those already.
    const bool same_places = take == 0 || ((offset - begin) % 64 == 0 && idx[take - 1].item<int64_t>() == take - 1);
    const torch::Tensor lp_take =
        m_.kernel || same_places ? lp.index_select(0, idx) : log_prob_at(*m_.flow, nullptr, x_take, offset, m_.device);
    out_.file().write_rows("/samples", offset, x_take);
    out_.file().write_rows("/log_prob", offset, lp_take);
  }

  const config::SampleConfig& sc_;
  GenerationModel& m_;
  io::GenerationFile& out_;
  const parallel::Communicator& comm_;
  int64_t dim_;
  torch::Tensor z_;                   // this rank's noise block
  torch::Tensor box_low_, box_high_;  // the flow's box, in its dtype
  torch::Tensor low_, high_;          // sample.boundaries (undefined when not set)
};

/// The closing lines (printed in quiet mode too).
void report(const config::SampleConfig& sc, int64_t dim, const io::Progress& p, const RoundsOutcome& outcome,
            const Log& log, const parallel::Communicator& comm) {
  const std::string dtype_name = config::name_of(sc.dtype);
  const int64_t written = p.rows_written - outcome.start;
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "sample: wrote %lld samples (D=%lld, %s) to %s in %s (%.3g samples/s on %d rank(s), peak RSS %.0f MiB "
                "per rank)",
                static_cast<long long>(written), static_cast<long long>(dim), dtype_name.c_str(), sc.out.c_str(),
                format_seconds(outcome.seconds).c_str(), written / std::max(outcome.seconds, 1e-9), comm.size(),
                outcome.peak_rss_mib);
  log.summary(buf);
  if (sc.boundaries) {
    const int64_t candidates = p.counters[kAccepted] + p.counters[kRejected];
    std::snprintf(buf, sizeof buf,
                  "sample: acceptance %.4g (%lld candidates for %lld samples inside sample.boundaries)",
                  static_cast<double>(p.counters[kAccepted]) / std::max<int64_t>(candidates, 1),
                  static_cast<long long>(candidates), static_cast<long long>(sc.n));
    log.info(buf);
  }
  if (p.counters[kNonFinite] > 0) {
    log.info("sample: " + std::to_string(p.counters[kNonFinite]) +
             " candidates lay on or outside the flow's box once rounded to " + dtype_name +
             " (no density there) and were replaced by the next ones");
  }
}

}  // namespace

int run_sample(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("sample: expected one CONFIG.toml");
  const Log log(comm);
  const config::Config cfg = config::load_config(cl.positional[0], cl.overrides);
  const auto& sc = cfg.sample;
  torch::NoGradGuard no_grad;
  // Everything that can be wrong with the config is found before any output exists.
  GenerationModel model = load_generation_model("sample", sc.weights, sc.dtype, sc.device, sc.backend, log, comm);
  const int64_t dim = model.flow->architecture().dim;
  if (sc.boundaries && static_cast<int64_t>(sc.boundaries->low.size()) != dim) {
    throw ConfigError("sample.boundaries has " + std::to_string(sc.boundaries->low.size()) +
                      " dimensions but the flow in " + sc.weights + " has D = " + std::to_string(dim));
  }
  const std::string dtype_name = config::name_of(sc.dtype);
  io::OutputIdentity identity{
      "gwflow " + std::string(kVersion) + " sample; weights sha256 " + model.sha256 + "; D " + std::to_string(dim) +
      "; n " + std::to_string(sc.n) + "; seed " + std::to_string(sc.seed) + "; dtype " + dtype_name + "; backend " +
      config::name_of(sc.backend) + (sc.boundaries ? "; boundaries " + box_text(*sc.boundaries) : "") +
      "; density at the stored point, strictly inside the box"};
  io::OutputAttributes attributes{provenance(sc.weights, model.sha256, sc.seed, sc.dtype, cfg), {}};
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
  print_run_header(log, comm, "sample", model.backend, config::to_toml(cfg));

  const ClaimedOutput out =
      claim_output(sc.out, {{"/samples", {sc.n, dim}, model.flow->dtype()}, {"/log_prob", {sc.n}, model.flow->dtype()}},
                   identity, attributes, cl.options.count("--overwrite") > 0, log, comm);
  if (out.file->state() == io::GenerationFile::State::kComplete) {
    log.info("sample: " + sc.out + " is already complete for this config, weights and seed; nothing to do");
    return 0;
  }
  io::Progress p = out.file->progress();
  if (out.file->state() == io::GenerationFile::State::kResumed) {
    log.info("sample: resuming " + io::partial_path(sc.out) + " at " + std::to_string(p.rows_written) + " of " +
             std::to_string(sc.n) + " rows");
  }
  SampleRounds sampler(sc, model, *out.file, comm);
  log.info("sample: " + std::to_string(sc.n) + " rows of D=" + std::to_string(dim) + " (" + dtype_name + ") from " +
           sc.weights + " into " + sc.out + ", blocks of " + std::to_string(sc.block_size) + " rows on " +
           std::to_string(comm.size()) + " rank(s), backend " + model.backend +
           (sc.boundaries ? ", within sample.boundaries" : ""));
  ResumableRounds rounds(comm, "sample", sc.n, [](const io::Progress& q) { return q.rows_written; });
  const RoundsOutcome outcome = rounds.run(
      *out.file, p, [&](io::Progress& q, RoundFlags& flags) { sampler.round(q, flags); },
      [&](const io::Progress& q) { sampler.give_up(q); });
  if (outcome.stopped) return kExitStoppedBySignal;
  out.file->finish();
  report(sc, dim, p, outcome, log, comm);
  return 0;
}

}  // namespace gwflow::app
