#include "gwflow/train/validator.hpp"

#include <algorithm>

#include "gwflow/flow/standard_normal.hpp"
#include "gwflow/train/gradient_backend.hpp"
#include "gwflow/train/state_archive.hpp"

namespace gwflow::train {

Validator::Validator(const config::Config& config, const TrainingData& data, const flow::FlowImpl& flow,
                     torch::Device device, const parallel::Communicator& comm)
    : config_(config), comm_(comm), loss_(config.training.loss), device_(device) {
  const auto& t = config.training;
  rows_ = data.validation.to(device, flow.dtype());
  if (is_regression(loss_)) {
    targets_ = data.validation_weights.to(device, flow.dtype());
    double mn = targets_.numel() ? targets_.min().item<double>() : INFINITY;
    comm_.min(&mn, 1);
    target_min_ = mn;
  }
  scheduler_.options = {t.lr_factor, t.lr_patience, t.lr_threshold, t.lr_cooldown, t.min_lr};
  stopper_.patience = t.patience;
  stopper_.min_delta = t.min_delta;
}

Validation Validator::evaluate(GradientBackend& g, const torch::Tensor& constant) const {
  torch::NoGradGuard no_grad;
  struct Sums {                             // over this rank's validation rows, then over the ranks
    double loss_terms = 0, log_normal = 0;  // the loss terms and log N(z) of the rows with a finite log_prob
    double finite_rows = 0, outside_rows = 0;
  } sums;
  const bool regression = is_regression(loss_);
  const auto c = constant.defined() ? constant : torch::zeros({1}, rows_.options());
  const int64_t chunk = config_.training.validation_batch_size;
  for (int64_t off = 0; off < rows_.size(0); off += chunk) {
    const int64_t n = std::min(chunk, rows_.size(0) - off);
    auto x = rows_.narrow(0, off, n);
    torch::Tensor z;
    const torch::Tensor lp = g.log_prob(x, &z);
    auto ok = torch::isfinite(lp);
    auto w = regression ? targets_.narrow(0, off, n) : torch::Tensor();
    sums.loss_terms += loss_terms(loss_, lp, w, c, target_min_).masked_select(ok).sum().item<double>();
    sums.log_normal += flow::standard_normal_log_prob(z.index({ok})).sum().item<double>();
    const int64_t n_ok = ok.sum().item<int64_t>();
    sums.finite_rows += static_cast<double>(n_ok);
    sums.outside_rows += static_cast<double>(n - n_ok);
  }
  comm_.sum_fields<double>(sums);
  Validation v;
  if (sums.finite_rows > 0) {
    v.loss = sums.loss_terms / sums.finite_rows;
    v.valmetric = sums.log_normal / sums.finite_rows;
  }
  v.outside_rows = static_cast<int64_t>(sums.outside_rows);
  return v;
}

double Validator::respond(const Validation& v, int64_t iteration, double lr, const flow::FlowImpl& flow) {
  if (config_.training.lr_scheduler == config::LrScheduler::kPlateau) lr = scheduler_.step(v.loss, lr);
  if (config_.training.early_stopping) {
    switch (stopper_.step(v.loss)) {
    case EarlyStopper::Verdict::kImproved:
      best_state_.clear();
      for (const auto& [name, t] : flow.state_dict()) best_state_.emplace_back(name, t.detach().clone());
      best_iteration_ = iteration;
      break;
    case EarlyStopper::Verdict::kStop: stopped_early_ = true; break;
    case EarlyStopper::Verdict::kContinue: break;
    }
  }
  return lr;
}

bool Validator::first_outside(const Validation& v) {
  const bool first = v.outside_rows > 0 && !warned_outside_;
  warned_outside_ = warned_outside_ || v.outside_rows > 0;
  return first;
}

flow::NamedTensors Validator::output_state(const flow::FlowImpl& flow) const {
  if (config_.training.early_stopping && !best_state_.empty()) return best_state_;
  return flow.state_dict();
}

RegressionSummary Validator::regression_summary(const flow::FlowImpl& flow) const {
  torch::NoGradGuard no_grad;
  RegressionSummary out;
  if (!is_regression(loss_)) return out;
  flow::Flow model(flow.architecture(), flow.dtype());
  model->to(device_);
  model->load_state_dict(output_state(flow));
  out.constant = model->constant().item<double>();
  struct Sums {  // of the residuals r = log_prob + C - w with a finite value
    double rows = 0, r = 0, r2 = 0;
  } sums;
  const int64_t chunk = config_.training.validation_batch_size;
  for (int64_t off = 0; off < rows_.size(0); off += chunk) {
    const int64_t n = std::min(chunk, rows_.size(0) - off);
    auto lp = model->log_prob(rows_.narrow(0, off, n)).to(torch::kFloat64);
    auto r = lp + out.constant - targets_.narrow(0, off, n).to(torch::kFloat64);
    auto rv = r.masked_select(torch::isfinite(r));
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

void Validator::archive(StateArchive& a, const flow::FlowImpl& flow) {
  scheduler_.archive(a);
  stopper_.archive(a);
  a.flag("stopped_early", stopped_early_);
  a.integer("best_iteration", best_iteration_);
  a.flag("warned_outside", warned_outside_);
  // The best model so far (early stopping), when there is one.
  if (a.is_loading()) {
    best_state_.clear();
    const auto names = flow.state_dict();
    if (a.has_tensor("best." + names.front().first)) {
      for (const auto& [name, t] : names) {
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
