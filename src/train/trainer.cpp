#include "gwflow/train/trainer.hpp"

#include "gwflow/train/batch_sampler.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <csignal>

#include "gwflow/errors.hpp"
#include "gwflow/kernels/backend_choice.hpp"
#include "gwflow/kernels/kernel_flow.hpp"
#include "gwflow/parallel/device.hpp"
#include "gwflow/parallel/gradient_reducer.hpp"
#include "gwflow/parallel/signals.hpp"
#include "gwflow/train/fused_adam.hpp"
#include "gwflow/train/gradient_backend.hpp"
#include "gwflow/train/initial_model.hpp"
#include "gwflow/train/state_archive.hpp"

namespace gwflow::train {
namespace {

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
    : config_(config), comm_(comm), checkpointer_(config, comm) {
  const auto& t = config.training;
  flow_ = make_initial_model(config, data, comm);
  loss_ = t.loss;
  device_ = parallel::select_device(t.device, "training.device", comm_);
  if (device_.is_cuda()) flow_->to(device_);
  train_ = data.train.to(device_, flow_->dtype());
  if (is_regression(loss_)) train_w_ = data.train_weights.to(device_, flow_->dtype());
  validator_ = std::make_unique<Validator>(config, data, *flow_, device_, comm_);
  // The optimizer and the gradients: fused kernels where they apply, else LibTorch.
  lr_ = t.learning_rate;
  params_ = flow_->parameters();
  auto backend = kernels::choose_backend(t.backend, *flow_, device_, "training.backend", "training");
  backend_ = backend.used;
  backend_note_ = std::move(backend.note);
  adam_ = std::make_unique<torch::optim::Adam>(params_, torch::optim::AdamOptions(t.learning_rate));
  gradient_ = make_gradient_backend(std::move(backend.kernel), *flow_, loss_, *adam_);
  reducer_ = parallel::make_gradient_reducer(t.reducer, comm_, params_);
  // This rank's batches.
  gen_ = at::detail::createCPUGenerator(rank_seed(t.seed, comm_.rank()));
  global_batch_ = t.batch_size == 0 ? data.n_train : std::min(t.batch_size, data.n_train);
  local_batch_ = parallel::batch_share(global_batch_, data.n_train, data.train_shard);
  history_.validation_step = t.validation_step;
  auto ref = valmetric_reference(data.n_validation, data.dim, static_cast<uint64_t>(t.seed) + 7919);
  history_.valmetric_mean = ref.first;
  history_.valmetric_std = ref.second;
}

Trainer::~Trainer() = default;

void Trainer::validate(Progress& p, const TrainCallbacks& cb) {
  const Validation v = validator_->evaluate(*gradient_, flow_->constant());  // undefined without model.constant
  p.validated = true;
  p.validation_loss = v.loss;
  p.valmetric = v.valmetric;
  history_.validation_loss.push_back(v.loss);
  history_.valmetric_value.push_back(v.valmetric);
  history_.validation_iteration.push_back(static_cast<double>(p.iteration));
  history_.learning_rate.push_back(lr_);
  const double lr = validator_->respond(v, p.iteration, lr_, *flow_);
  if (lr != lr_) {
    lr_ = lr;
    for (auto& group : adam_->param_groups()) group.options().set_lr(lr_);
  }
  if (validator_->first_outside(v) && cb.message) {
    cb.message(std::to_string(v.outside_rows) +
               " validation rows lie outside the training box: their log_prob is -inf and they are left out of "
               "the validation loss");
  }
}

void Trainer::run(const TrainCallbacks& cb, const std::string& checkpoint_dir) {
  const auto& t = config_.training;
  stop_signal_ = 0;
  BatchSampler sampler(train_.size(0), local_batch_);

  const bool regression = is_regression(loss_);
  while (iteration_ < t.iterations && !validator_->stopped_early()) {
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
    if (iteration_ % t.validation_step == 0) validate(p, cb);  // as mbank: from iteration 0, after its step
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
  auto rng = gen_.get_state();
  std::vector<uint8_t> mine(rng.data_ptr<uint8_t>(), rng.data_ptr<uint8_t>() + rng.numel());
  gathered_rng_ = comm_.gather_bytes(mine);  // rank 0: every rank's generator
  return checkpointer_.save(dir, iteration_, [&](io::CheckpointContent& c) {
    auto a = StateArchive::saving(c);
    archive(a, {});
  });
}

void Trainer::restore(const io::CheckpointContent& c, const std::string& source,
                      const std::function<void(const std::string&)>& message) {
  checkpointer_.check_compatible(c, source);
  auto a = StateArchive::loading(c, source);
  archive(a, message);
  checkpointer_.restored(iteration_);
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
  validator_->archive(a, *flow_);
}

}  // namespace gwflow::train
