#include "gwflow/train/trainer.hpp"

#include "gwflow/train/batch_sampler.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <sstream>

#include "gwflow/errors.hpp"
#include "gwflow/flow/standard_normal.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/kernels/backend_choice.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/parallel/device.hpp"
#include "gwflow/parallel/gradient_reducer.hpp"
#include "gwflow/parallel/root_task.hpp"
#include "gwflow/parallel/signals.hpp"
#include "gwflow/train/fused_adam.hpp"
#include "gwflow/train/gradient_backend.hpp"
#include "gwflow/train/quantile.hpp"
#include "gwflow/train/state_archive.hpp"
#include "gwflow/version.hpp"

namespace gwflow::train {
namespace {

constexpr size_t kCheckpointsKept = 2;

torch::Dtype dtype_of(config::Dtype dtype) {
  return dtype == config::Dtype::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

uint64_t rank_seed(int64_t seed, int rank) {
  return static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(rank) + 1;
}

}  // namespace

std::pair<double, double> valmetric_reference(int64_t n, int64_t d, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const double k = static_cast<double>(n * d);
  auto alpha = torch::full({1000}, k / 2, torch::kFloat64);
  auto chi2 = 2 * at::_standard_gamma(alpha, gen);
  auto m = -0.5 * chi2 / static_cast<double>(n) - 0.5 * static_cast<double>(d) * std::log(2 * M_PI);
  return {m.mean().item<double>(), m.std(/*unbiased=*/false).item<double>()};
}

Trainer::Trainer(const config::Config& config, const TrainingData& data, const parallel::Communicator& comm)
    : config_(config), data_(data), comm_(comm) {
  const auto& t = config.training;
  flow::Architecture arch{data.dim, config.model.hidden_features, config.model.constant};
  torch::manual_seed(static_cast<uint64_t>(t.seed));  // the same initial model on every rank
  flow_ = flow::Flow(arch, dtype_of(config.model.dtype));
  torch::Tensor low, high;
  if (!config.data.columns.empty() && static_cast<int64_t>(config.data.columns.size()) != data.dim) {
    throw ConfigError("data.columns has " + std::to_string(config.data.columns.size()) + " names but " +
                      config.data.train.str() + " has D = " + std::to_string(data.dim));
  }
  if (config.data.boundaries) {
    const auto& b = *config.data.boundaries;
    if (static_cast<int64_t>(b.low.size()) != data.dim) {
      throw ConfigError("data.boundaries has " + std::to_string(b.low.size()) + " dimensions but " +
                        config.data.train.str() + " has D = " + std::to_string(data.dim));
    }
    std::tie(low, high) =
        flow::box_with_margin(torch::tensor(b.low, torch::kFloat64), torch::tensor(b.high, torch::kFloat64));
  } else {
    std::tie(low, high) = flow::box_with_margin(data.min, data.max);
  }
  flow_->box()->set_box(low, high);
  loss_ = t.loss;
  if (!config.model.init.empty()) {
    // Fine-tuning: every parameter (box and constant included) from an existing weights file.
    const auto state = io::read_weights(config.model.init, "model.init");
    const std::string label = io::weights_label(config.model.init, "model.init");
    try {
      const auto file_arch = flow::infer_architecture(state);
      if (file_arch != arch) {
        throw ConfigError(label + " holds " + file_arch.describe() + " but the config asks for " + arch.describe());
      }
      flow_->load_state_dict(state);
    } catch (const DomainError& e) {
      throw ConfigError(label + ": " + e.what());
    }
  }
  if (is_regression(loss_)) {  // model.constant is checked by config::validate
    if (!data.train_weights.defined()) {
      throw ConfigError("training.loss = \"" + std::string(config::name_of(t.loss)) + "\" needs data.weights");
    }
    train_w_ = data.train_weights.to(flow_->dtype());
    validation_w_ = data.validation_weights.to(flow_->dtype());
    double mn = validation_w_.numel() ? validation_w_.min().item<double>() : INFINITY;
    comm_.min(&mn, 1);
    validation_w_min_ = mn;
    if (config.model.init.empty()) {
      // mbank: C starts at the 0.9 quantile of the training targets (over every rank's rows).
      const double c0 = global_quantile(data.train_weights, 0.9, comm_);
      torch::NoGradGuard no_grad;
      flow_->constant().fill_(c0);
    }
  }
  device_ = parallel::select_device(t.device, "training.device", comm_);
  if (device_.is_cuda()) {
    flow_->to(device_);
    if (train_w_.defined()) {
      train_w_ = train_w_.to(device_);
      validation_w_ = validation_w_.to(device_);
    }
  }
  lr_ = t.learning_rate;
  use_scheduler_ = t.lr_scheduler == config::LrScheduler::kPlateau;
  scheduler_.options = {t.lr_factor, t.lr_patience, t.lr_threshold, t.lr_cooldown, t.min_lr};
  stopper_.patience = t.patience;
  stopper_.min_delta = t.min_delta;
  params_ = flow_->parameters();
  auto backend = kernels::choose_backend(t.backend, *flow_, device_, "training.backend", "training");
  backend_ = backend.used;
  backend_note_ = std::move(backend.note);
  adam_ = std::make_unique<torch::optim::Adam>(params_, torch::optim::AdamOptions(t.learning_rate));
  gradient_ = make_gradient_backend(std::move(backend.kernel), *flow_, loss_, *adam_);
  reducer_ = parallel::make_gradient_reducer(t.reducer, comm_, params_);
  gen_ = at::detail::createCPUGenerator(rank_seed(t.seed, comm_.rank()));
  train_ = data.train.to(device_, flow_->dtype());
  validation_ = data.validation.to(device_, flow_->dtype());
  global_batch_ = t.batch_size == 0 ? data.n_train : std::min(t.batch_size, data.n_train);
  local_batch_ = parallel::batch_share(global_batch_, data.n_train, data.train_shard);
  history_.validation_step = t.validation_step;
  auto ref = valmetric_reference(data.n_validation, data.dim, static_cast<uint64_t>(t.seed) + 7919);
  history_.valmetric_mean = ref.first;
  history_.valmetric_std = ref.second;
}

Trainer::~Trainer() = default;

void Trainer::validate(Progress& p) {
  torch::NoGradGuard no_grad;
  struct Sums {                             // over this rank's validation rows, then over the ranks
    double loss_terms = 0, log_normal = 0;  // the loss terms and log N(z) of the rows with a finite log_prob
    double finite_rows = 0, outside_rows = 0;
  } sums;
  const bool regression = is_regression(loss_);
  auto c = flow_->constant().defined() ? flow_->constant() : torch::zeros({1}, validation_.options());
  const int64_t chunk = config_.training.validation_batch_size;
  for (int64_t off = 0; off < validation_.size(0); off += chunk) {
    const int64_t rows = std::min(chunk, validation_.size(0) - off);
    auto x = validation_.narrow(0, off, rows);
    torch::Tensor z;
    const torch::Tensor lp = gradient_->log_prob(x, &z);
    auto ok = torch::isfinite(lp);
    auto w = regression ? validation_w_.narrow(0, off, rows) : torch::Tensor();
    sums.loss_terms += loss_terms(loss_, lp, w, c, validation_w_min_).masked_select(ok).sum().item<double>();
    sums.log_normal += flow::standard_normal_log_prob(z.index({ok})).sum().item<double>();
    const int64_t n_ok = ok.sum().item<int64_t>();
    sums.finite_rows += static_cast<double>(n_ok);
    sums.outside_rows += static_cast<double>(x.size(0) - n_ok);
  }
  comm_.sum_fields<double>(sums);
  p.validated = true;
  p.validation_loss = sums.finite_rows > 0 ? sums.loss_terms / sums.finite_rows : NAN;
  p.valmetric = sums.finite_rows > 0 ? sums.log_normal / sums.finite_rows : NAN;
  validation_outside_ = static_cast<int64_t>(sums.outside_rows);
  history_.validation_loss.push_back(p.validation_loss);
  history_.valmetric_value.push_back(p.valmetric);
  history_.validation_iteration.push_back(static_cast<double>(p.iteration));
  history_.learning_rate.push_back(lr_);
  if (use_scheduler_) {
    const double lr = scheduler_.step(p.validation_loss, lr_);
    if (lr != lr_) {
      lr_ = lr;
      for (auto& group : adam_->param_groups()) group.options().set_lr(lr_);
    }
  }
  if (config_.training.early_stopping) {
    switch (stopper_.step(p.validation_loss)) {
    case EarlyStopper::Verdict::kImproved:
      best_state_.clear();
      for (const auto& [name, t] : flow_->state_dict()) best_state_.emplace_back(name, t.detach().clone());
      best_iteration_ = p.iteration;
      break;
    case EarlyStopper::Verdict::kStop: stopped_early_ = true; break;
    case EarlyStopper::Verdict::kContinue: break;
    }
  }
}

flow::NamedTensors Trainer::output_state() const {
  if (config_.training.early_stopping && !best_state_.empty()) return best_state_;
  return flow_->state_dict();
}

RegressionSummary Trainer::regression_summary() {
  torch::NoGradGuard no_grad;
  RegressionSummary out;
  if (!is_regression(loss_)) return out;
  flow::Flow model(flow_->architecture(), flow_->dtype());
  model->to(device_);
  model->load_state_dict(output_state());
  out.constant = model->constant().item<double>();
  struct Sums {  // of the residuals r = log_prob + C - w with a finite value
    double rows = 0, r = 0, r2 = 0;
  } sums;
  const int64_t chunk = config_.training.validation_batch_size;
  for (int64_t off = 0; off < validation_.size(0); off += chunk) {
    const int64_t rows = std::min(chunk, validation_.size(0) - off);
    auto lp = model->log_prob(validation_.narrow(0, off, rows)).to(torch::kFloat64);
    auto r = lp + out.constant - validation_w_.narrow(0, off, rows).to(torch::kFloat64);
    auto ok = torch::isfinite(r);
    auto rv = r.masked_select(ok);
    sums.rows += static_cast<double>(rv.numel());
    sums.r += rv.sum().item<double>();
    sums.r2 += rv.square().sum().item<double>();
  }
  comm_.sum_fields<double>(sums);
  out.rows = static_cast<int64_t>(sums.rows);
  if (out.rows > 0) {
    out.residual_mean = sums.r / sums.rows;
    out.residual_std = std::sqrt(std::max(0.0, sums.r2 / sums.rows - out.residual_mean * out.residual_mean));
  }
  return out;
}

void Trainer::run(const TrainCallbacks& cb, const std::string& checkpoint_dir) {
  const auto& t = config_.training;
  stop_signal_ = 0;
  BatchSampler sampler(train_.size(0), local_batch_);

  const bool regression = is_regression(loss_);
  while (iteration_ < t.iterations && !stopped_early_) {
    parallel::test_step_delay();
    Progress p;
    p.iteration = iteration_;
    p.iterations = t.iterations;
    const auto& idx = sampler.draw(gen_);
    auto w = regression ? gather_rows(train_w_, idx) : torch::Tensor();
    double w_min = 0;
    if (loss_ == Loss::kWeightedLlMse) {  // the minimum over the global batch
      w_min = w.numel() ? w.min().item<double>() : INFINITY;
      comm_.min(&w_min, 1);
    }
    const auto [local_sum, kept_rows] = gradient_->local_loss(gather_rows(train_, idx), w, w_min);
    // One allreduce for the loss, the row counts and the stop flags of every rank.
    const int sig = parallel::StopSignals::local();
    struct Sums {
      double loss = 0, rows = 0;              // the loss terms and rows with a finite log_prob
      double interrupts = 0, terminates = 0;  // ranks that saw SIGINT; ranks that saw another stop signal
    } sums{local_sum, static_cast<double>(kept_rows), sig == SIGINT ? 1.0 : 0.0,
           (sig != 0 && sig != SIGINT) ? 1.0 : 0.0};
    comm_.sum_fields<double>(sums);
    if (sums.rows < 1) {
      throw NumericsError("iteration " + std::to_string(iteration_) + ": no batch row has a finite log_prob");
    }
    p.train_loss = sums.loss / sums.rows;
    if (!std::isfinite(p.train_loss)) {
      throw NumericsError("training diverged at iteration " + std::to_string(iteration_) +
                          " (non-finite loss); lower training.learning_rate");
    }
    gradient_->gradients(sums.rows);
    reducer_->allreduce();
    gradient_->step();
    history_.train_loss.push_back(p.train_loss);
    if (iteration_ % t.validation_step == 0) {  // as mbank: from iteration 0, after its step
      validate(p);
      if (validation_outside_ > 0 && !warned_outside_ && cb.message) {
        cb.message(std::to_string(validation_outside_) +
                   " validation rows lie outside the training box: their log_prob is -inf and they are "
                   "left out of the validation loss");
      }
      warned_outside_ = warned_outside_ || validation_outside_ > 0;
    }
    ++iteration_;
    if (cb.progress) cb.progress(p);
    if (!checkpoint_dir.empty() && t.checkpoint_every > 0 && iteration_ % t.checkpoint_every == 0) {
      save_checkpoint(checkpoint_dir);
    }
    if (sums.interrupts > 0 || sums.terminates > 0) {
      stop_signal_ = sums.terminates > 0 ? SIGTERM : SIGINT;
      break;
    }
  }
}

std::string Trainer::save_checkpoint(const std::string& dir) {
  const std::string path = io::checkpoint_path(dir, iteration_);
  if (last_checkpoint_iteration_ == iteration_) return path;
  const auto t0 = std::chrono::steady_clock::now();
  auto rng = gen_.get_state();
  std::vector<uint8_t> mine(rng.data_ptr<uint8_t>(), rng.data_ptr<uint8_t>() + rng.numel());
  gathered_rng_ = comm_.gather_bytes(mine);  // rank 0: every rank's generator
  // Rank 0 writes; a failure (a full disk, say) is the same error on every rank, and the
  // previous checkpoints stay as they were (the new one is written under a partial name).
  parallel::run_on_root(comm_, [&] {
    io::CheckpointContent c;
    auto a = StateArchive::saving(c);
    archive(a, {});
    c.text["gwflow_version"] = kVersion;
    for (const auto& [k, v] : config::restart_identity(config_)) c.text["config." + k] = v;
    c.text["data.train"] = io::file_fingerprint(config_.data.train.file);
    if (!config_.data.validation.empty())
      c.text["data.validation"] = io::file_fingerprint(config_.data.validation.file);
    io::write_checkpoint_file(path, c);
    io::prune_checkpoints(dir, kCheckpointsKept);
    std::error_code ec;
    last_checkpoint_bytes_ = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  });  // the checkpoint is complete on disk before any rank goes on
  last_checkpoint_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  last_checkpoint_iteration_ = iteration_;
  return path;
}

void Trainer::restore(const io::CheckpointContent& c, const std::string& source,
                      const std::function<void(const std::string&)>& message) {
  const auto identity = config::restart_identity(config_);
  for (const auto& [k, v] : identity) {  // first whether it records every key, then the values
    if (!c.text.count("config." + k)) {
      auto version = c.text.find("gwflow_version");
      throw ConfigError(source + ": the checkpoint does not record " + k + " (written by gwflow " +
                        (version == c.text.end() ? std::string("< 0.1") : version->second) + "; gwflow " + kVersion +
                        " records the restart identity one key at a time: continue that run with the gwflow that "
                        "wrote it)");
    }
  }
  for (const auto& [k, v] : identity) {
    auto it = c.text.find("config." + k);
    if (it->second != v) {
      throw ConfigError("cannot restart from " + source + ": " + k + " is '" + v + "' now but was '" + it->second +
                        "' (start a fresh training in another output.dir)");
    }
  }
  for (const config::DatasetRef* data : {&config_.data.train, &config_.data.validation}) {
    const std::string key = data == &config_.data.train ? "data.train" : "data.validation";
    auto fp = c.text.find(key);
    if (fp != c.text.end() && !data->empty() && fp->second != io::file_fingerprint(data->file)) {
      throw ConfigError("cannot restart from " + source + ": the " + (key == "data.train" ? "training" : "validation") +
                        " data file " + data->file + " changed since the checkpoint (size or modification time)");
    }
  }
  auto a = StateArchive::loading(c, source);
  archive(a, message);
  last_checkpoint_iteration_ = iteration_;
}

void Trainer::archive(StateArchive& a, const std::function<void(const std::string&)>& message) {
  const bool loading = a.is_loading();
  a.integer("iteration", iteration_);
  // The model: loaded as a whole (its own shape checks), then repacked for the kernels.
  flow::NamedTensors params = flow_->state_dict();
  for (auto& [name, t] : params) a.tensor("param." + name, t);
  if (loading) {
    try {
      flow_->load_state_dict(params);
    } catch (const DomainError& e) {
      throw IoError(a.source() + ": " + e.what());
    }
    gradient_->parameters_changed();
    adam_->state().clear();
  }
  // Adam's moments, for the parameters that have them (all of them after the first step).
  for (const auto& item : flow_->named_parameters()) {
    const std::string key = item.key();
    auto found = adam_->state().find(adam_state_key(item.value()));
    if (loading ? !a.has_tensor("adam.exp_avg." + key) : found == adam_->state().end()) continue;
    torch::Tensor m, v;
    int64_t step = 0;
    if (!loading) {
      const auto& st = static_cast<const torch::optim::AdamParamState&>(*found->second);
      m = st.exp_avg();
      v = st.exp_avg_sq();
      step = st.step();
    }
    a.tensor("adam.exp_avg." + key, m);
    a.tensor("adam.exp_avg_sq." + key, v);
    a.integer("adam.step." + key, step);
    if (loading) {
      auto st = std::make_unique<torch::optim::AdamParamState>();
      st->step(step);
      st->exp_avg(m.to(item.value().options()).clone());
      st->exp_avg_sq(v.to(item.value().options()).clone());
      adam_->state()[adam_state_key(item.value())] = std::move(st);
    }
  }
  // The batch generators: one per rank (saving: rank 0 holds them all, gathered).
  int64_t ranks = comm_.size();
  a.integer("n_ranks", ranks);
  if (!loading) {
    for (size_t r = 0; r < gathered_rng_.size(); ++r) {
      auto& bytes = gathered_rng_[r];
      auto t = torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, torch::kUInt8).clone();
      a.tensor("rng." + std::to_string(r), t);
    }
  } else if (ranks == comm_.size()) {
    torch::Tensor state;
    a.tensor("rng." + std::to_string(comm_.rank()), state);
    gen_.set_state(state);
  } else {
    if (message) {
      message("the checkpoint was written by " + std::to_string(ranks) + " ranks, this run has " +
              std::to_string(comm_.size()) +
              ": the shards change, so the continuation differs from an uninterrupted run");
    }
    gen_ = at::detail::createCPUGenerator(rank_seed(config_.training.seed, comm_.rank()) ^
                                          static_cast<uint64_t>(iteration_) * 0xD1B54A32D192ED03ull);
  }
  history_.archive(a);
  a.number("lr", lr_);
  if (loading) {
    for (auto& group : adam_->param_groups()) group.options().set_lr(lr_);
  }
  scheduler_.archive(a);
  stopper_.archive(a);
  a.flag("stopped_early", stopped_early_);
  a.integer("best_iteration", best_iteration_);
  a.flag("warned_outside", warned_outside_);
  // The best model so far (early stopping), when there is one.
  const std::string first = "best." + flow_->state_dict().front().first;
  if (loading) {
    best_state_.clear();
    if (a.has_tensor(first)) {
      for (const auto& [name, t] : flow_->state_dict()) {
        torch::Tensor best;
        a.tensor("best." + name, best);
        best_state_.emplace_back(name, best.clone());
      }
    }
  } else {
    for (auto& [name, t] : best_state_) a.tensor("best." + name, t);
  }
}

}  // namespace gwflow::train
