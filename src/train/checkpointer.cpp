#include "gwflow/train/checkpointer.hpp"

#include <chrono>
#include <filesystem>

#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/parallel/root_task.hpp"
#include "gwflow/version.hpp"

namespace gwflow::train {
namespace {

constexpr size_t kCheckpointsKept = 2;

/// The data files whose fingerprints a checkpoint records, by key.
std::vector<std::pair<std::string, const config::DatasetRef*>> data_files(const config::Config& config) {
  return {{"data.train", &config.data.train}, {"data.validation", &config.data.validation}};
}

}  // namespace

std::string Checkpointer::save(const std::string& dir, int64_t iteration,
                               const std::function<void(io::CheckpointContent&)>& fill) {
  const std::string path = io::checkpoint_path(dir, iteration);
  if (last_iteration_ == iteration) return path;
  const auto t0 = std::chrono::steady_clock::now();
  parallel::run_on_root(comm_, [&] {
    io::CheckpointContent c;
    fill(c);
    c.text["gwflow_version"] = kVersion;
    for (const auto& [k, v] : config::restart_identity(config_)) c.text["config." + k] = v;
    for (const auto& [key, data] : data_files(config_)) {
      if (!data->empty()) c.text[key] = io::file_fingerprint(data->file);
    }
    io::write_checkpoint_file(path, c);
    io::prune_checkpoints(dir, kCheckpointsKept);
    std::error_code ec;
    last_bytes_ = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  });
  last_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  last_iteration_ = iteration;
  return path;
}

void Checkpointer::check_compatible(const io::CheckpointContent& c, const std::string& source) const {
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
    const auto& was = c.text.at("config." + k);
    if (was != v) {
      throw ConfigError("cannot restart from " + source + ": " + k + " is '" + v + "' now but was '" + was +
                        "' (start a fresh training in another output.dir)");
    }
  }
  for (const auto& [key, data] : data_files(config_)) {
    auto fp = c.text.find(key);
    if (fp != c.text.end() && !data->empty() && fp->second != io::file_fingerprint(data->file)) {
      throw ConfigError("cannot restart from " + source + ": the " + (key == "data.train" ? "training" : "validation") +
                        " data file " + data->file + " changed since the checkpoint (size or modification time)");
    }
  }
}

}  // namespace gwflow::train
