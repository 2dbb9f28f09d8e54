#include "gwflow/train/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <csignal>

#include "gwflow/errors.hpp"
#include "gwflow/flow/standard_normal.hpp"
#include "gwflow/parallel/gradient_reducer.hpp"
#include "gwflow/parallel/signals.hpp"

namespace gwflow::train {
namespace {

constexpr int64_t kEvalChunk = 65536;

torch::Dtype dtype_of(const std::string& name) { return name == "float64" ? torch::kFloat64 : torch::kFloat32; }

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
  if (config.data.boundaries) {
    const auto& b = *config.data.boundaries;
    if (static_cast<int64_t>(b.low.size()) != data.dim) {
      throw ConfigError("data.boundaries has " + std::to_string(b.low.size()) + " dimensions but " +
                        config.data.train.str() + " has D = " + std::to_string(data.dim));
    }
    std::tie(low, high) = flow::box_with_margin(torch::tensor(b.low, torch::kFloat64),
                                                torch::tensor(b.high, torch::kFloat64));
  } else {
    std::tie(low, high) = flow::box_with_margin(data.min, data.max);
  }
  flow_->box()->set_box(low, high);
  train_ = data.train.to(flow_->dtype());
  validation_ = data.validation.to(flow_->dtype());
  global_batch_ = t.batch_size == 0 ? data.n_train : std::min(t.batch_size, data.n_train);
  local_batch_ = parallel::batch_share(global_batch_, data.n_train, data.train_shard);
  history_.validation_step = t.validation_step;
  auto ref = valmetric_reference(data.n_validation, data.dim, static_cast<uint64_t>(t.seed) + 7919);
  history_.valmetric_mean = ref.first;
  history_.valmetric_std = ref.second;
}

void Trainer::validate(Progress& p) {
  torch::NoGradGuard no_grad;
  double stats[4] = {0, 0, 0, 0};  // sum log_prob, sum log N(z), finite rows, outside rows
  for (int64_t off = 0; off < validation_.size(0); off += kEvalChunk) {
    auto x = validation_.narrow(0, off, std::min(kEvalChunk, validation_.size(0) - off));
    auto r = flow_->forward(x);
    auto lp = flow::standard_normal_log_prob(r.outputs) + r.logabsdet;
    auto ok = torch::isfinite(lp);
    stats[0] += lp.masked_select(ok).sum().item<double>();
    stats[1] += flow::standard_normal_log_prob(r.outputs.index({ok})).sum().item<double>();
    const int64_t n_ok = ok.sum().item<int64_t>();
    stats[2] += static_cast<double>(n_ok);
    stats[3] += static_cast<double>(x.size(0) - n_ok);
  }
  comm_.sum(stats, 4);
  p.validated = true;
  p.validation_loss = stats[2] > 0 ? -stats[0] / stats[2] : NAN;
  p.valmetric = stats[2] > 0 ? stats[1] / stats[2] : NAN;
  validation_outside_ = static_cast<int64_t>(stats[3]);
  history_.validation_loss.push_back(p.validation_loss);
  history_.valmetric_value.push_back(p.valmetric);
  history_.validation_iteration.push_back(static_cast<double>(p.iteration));
}

void Trainer::run(const TrainCallbacks& cb) {
  const auto& t = config_.training;
  auto params = flow_->parameters();
  torch::optim::Adam adam(params, torch::optim::AdamOptions(t.learning_rate));
  parallel::GradientReducer reducer(comm_, params);
  const uint64_t rank_seed =
      static_cast<uint64_t>(t.seed) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(comm_.rank()) + 1;
  auto gen = at::detail::createCPUGenerator(rank_seed);
  const int64_t n_local = train_.size(0);
  auto index_opts = torch::TensorOptions().dtype(torch::kInt64);

  for (; iteration_ < t.iterations; ++iteration_) {
    Progress p;
    p.iteration = iteration_;
    p.iterations = t.iterations;
    auto idx = torch::randperm(n_local, gen, index_opts).narrow(0, 0, local_batch_);
    auto lp = flow_->log_prob(train_.index_select(0, idx));
    auto ok = torch::isfinite(lp);
    auto local_sum = lp.masked_select(ok).sum();
    // One allreduce for the loss, the row counts and the stop flags of every rank.
    const int sig = parallel::StopSignals::local();
    double stats[4] = {local_sum.item<double>(), static_cast<double>(ok.sum().item<int64_t>()),
                       sig == SIGINT ? 1.0 : 0.0, (sig != 0 && sig != SIGINT) ? 1.0 : 0.0};
    comm_.sum(stats, 4);
    if (stats[1] < 1) {
      throw NumericsError("iteration " + std::to_string(iteration_) + ": no batch row has a finite log_prob");
    }
    p.train_loss = -stats[0] / stats[1];
    if (!std::isfinite(p.train_loss)) {
      throw NumericsError("training diverged at iteration " + std::to_string(iteration_) +
                          " (non-finite loss); lower training.learning_rate");
    }
    adam.zero_grad();
    (-local_sum / stats[1]).backward();
    reducer.allreduce();
    adam.step();
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
    if (cb.progress) cb.progress(p);
    if (stats[2] > 0 || stats[3] > 0) {
      stop_signal_ = stats[3] > 0 ? SIGTERM : SIGINT;
      ++iteration_;
      break;
    }
  }
}

}  // namespace gwflow::train
