#include "gwflow/train/initial_model.hpp"

#include "gwflow/errors.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/train/losses.hpp"
#include "gwflow/train/quantile.hpp"

namespace gwflow::train {
namespace {

torch::Dtype dtype_of(config::Dtype dtype) {
  return dtype == config::Dtype::kFloat64 ? torch::kFloat64 : torch::kFloat32;
}

/// "data.columns has 3 names but train.h5:/x has D = 2".
std::string dims_mismatch(const std::string& key, size_t n, const std::string& what, const config::Config& config,
                          int64_t dim) {
  return key + " has " + std::to_string(n) + " " + what + " but " + config.data.train.str() +
         " has D = " + std::to_string(dim);
}

/// The box: data.boundaries when given, else the training data's range; with mbank's margin.
void set_box(flow::FlowImpl& flow, const config::Config& config, const TrainingData& data) {
  torch::Tensor low, high;
  if (config.data.boundaries) {
    const auto& b = *config.data.boundaries;
    if (static_cast<int64_t>(b.low.size()) != data.dim) {
      throw ConfigError(dims_mismatch("data.boundaries", b.low.size(), "dimensions", config, data.dim));
    }
    std::tie(low, high) =
        flow::box_with_margin(torch::tensor(b.low, torch::kFloat64), torch::tensor(b.high, torch::kFloat64));
  } else {
    std::tie(low, high) = flow::box_with_margin(data.min, data.max);
  }
  flow.box()->set_box(low, high);
}

/// Fine-tuning: every parameter (box and constant included) from an existing weights file.
void load_init(flow::FlowImpl& flow, const config::Config& config) {
  const auto state = io::read_weights(config.model.init, "model.init");
  const std::string label = io::weights_label(config.model.init, "model.init");
  try {
    const auto file_arch = flow::infer_architecture(state);
    if (file_arch != flow.architecture()) {
      throw ConfigError(label + " holds " + file_arch.describe() + " but the config asks for " +
                        flow.architecture().describe());
    }
    flow.load_state_dict(state);
  } catch (const DomainError& e) {
    throw ConfigError(label + ": " + e.what());
  }
}

}  // namespace

flow::Flow make_initial_model(const config::Config& config, const TrainingData& data,
                              const parallel::Communicator& comm) {
  if (!config.data.columns.empty() && static_cast<int64_t>(config.data.columns.size()) != data.dim) {
    throw ConfigError(dims_mismatch("data.columns", config.data.columns.size(), "names", config, data.dim));
  }
  const flow::Architecture arch{data.dim, config.model.hidden_features, config.model.constant};
  torch::manual_seed(static_cast<uint64_t>(config.training.seed));  // the same initial model on every rank
  flow::Flow flow(arch, dtype_of(config.model.dtype));
  set_box(*flow, config, data);
  const bool regression = is_regression(config.training.loss);  // model.constant: checked by config::validate
  if (regression && !data.train_weights.defined()) {
    throw ConfigError("training.loss = \"" + std::string(config::name_of(config.training.loss)) +
                      "\" needs data.weights");
  }
  if (!config.model.init.empty()) {
    load_init(*flow, config);
  } else if (regression) {
    // mbank: C starts at the 0.9 quantile of the training targets (over every rank's rows).
    const double c0 = global_quantile(data.train_weights, 0.9, comm);
    torch::NoGradGuard no_grad;
    flow->constant().fill_(c0);
  }
  return flow;
}

}  // namespace gwflow::train
