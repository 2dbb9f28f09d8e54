#include <sstream>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/generation.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/weights.hpp"

namespace gwflow::app {
namespace {

std::string vec(const torch::Tensor& t) {
  std::ostringstream s;
  s.precision(10);
  auto d = t.to(torch::kFloat64).contiguous();
  s << "[";
  for (int64_t i = 0; i < d.numel(); ++i) s << (i ? ", " : "") << d.data_ptr<double>()[i];
  s << "]";
  return s.str();
}

}  // namespace

int run_info(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("info: expected one WEIGHTS file");
  const std::string& path = cl.positional[0];
  const auto state = io::read_weights(path, "");
  flow::Flow flow = load_flow(state, path, "", config::Dtype::kFloat64);
  const auto& arch = flow->architecture();
  const Log log(comm);
  log.info("weights:     " + path);
  log.info("model:       STD_GW_Flow(D=" + std::to_string(arch.dim) + ", n_layers=" + std::to_string(arch.n_layers()) +
           ")  " + arch.describe());
  log.info("parameters:  " + std::to_string(arch.parameter_count()) + " trainable, " + std::to_string(state.size()) +
           " entries in the file (" + std::string(c10::toString(state.front().second.scalar_type())) + ")");
  log.info("box low:     " + vec(flow->box()->low()));
  log.info("box high:    " + vec(flow->box()->high()));
  if (arch.has_constant) log.info("constant:    " + vec(flow->constant()));
  return 0;
}

}  // namespace gwflow::app
