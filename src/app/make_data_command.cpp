#include <chrono>
#include <filesystem>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/examples/regression_data.hpp"
#include "gwflow/examples/seed_tutorial_data.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/output_lock.hpp"

namespace gwflow::app {
namespace {

int64_t integer_option(const CommandLine& cl, const std::string& name, int64_t min_value) {
  auto it = cl.options.find(name);
  if (it == cl.options.end()) throw UsageError("make-data: " + name + " is required");
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used != it->second.size() || v < min_value) throw std::invalid_argument("range");
    return v;
  } catch (const std::exception&) {
    throw UsageError("make-data: " + name + " must be an integer >= " + std::to_string(min_value) + ", got '" +
                     it->second + "'");
  }
}

}  // namespace

int run_make_data(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("make-data: expected one generator name (seed-tutorial)");
  const std::string& generator = cl.positional[0];
  if (generator != "seed-tutorial" && generator != "regression-3d") {
    throw UsageError("make-data: unknown generator '" + generator + "' (available: seed-tutorial, regression-3d)");
  }
  const int64_t n = integer_option(cl, "--n", 1);
  constexpr int64_t kMaxRows = int64_t{1} << 32;  // held in memory: a typo must not become an OOM
  if (n > kMaxRows) throw UsageError("make-data: --n must be <= " + std::to_string(kMaxRows));
  const int64_t seed = integer_option(cl, "--seed", 0);
  auto out = cl.options.find("--out");
  if (out == cl.options.end() || out->second.empty()) throw UsageError("make-data: --out FILE.h5 is required");
  io::make_directories(std::filesystem::path(out->second).parent_path().string(), comm);
  std::string lock_note;
  const io::OutputLock lock(out->second, io::OutputLock::beside(out->second), comm, lock_note);
  if (!lock_note.empty()) Log(comm).warn(lock_note);
  const auto t0 = std::chrono::steady_clock::now();
  if (generator == "seed-tutorial") {
    examples::write_seed_tutorial_data(out->second, n, static_cast<uint64_t>(seed), comm);
  } else {
    examples::write_regression_data(out->second, n, static_cast<uint64_t>(seed), comm);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Log(comm).info("make-data: wrote " + std::to_string(n) + " " + generator + " rows to " + out->second + " in " +
                 format_seconds(s));
  return 0;
}

}  // namespace gwflow::app
