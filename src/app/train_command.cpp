#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "gwflow/app/commands.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/config/config.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/atomic_file.hpp"
#include "gwflow/io/checkpoint_file.hpp"
#include "gwflow/io/output_lock.hpp"
#include "gwflow/io/weights.hpp"
#include "gwflow/parallel/root_task.hpp"
#include "gwflow/parallel/signals.hpp"
#include "gwflow/train/trainer.hpp"
#include "gwflow/version.hpp"

namespace gwflow::app {

namespace {

bool has(const CommandLine& cl, const char* option) { return cl.options.count(option) > 0; }

/// The run header: backend, model, data and batch shares.
void print_start(const Log& log, const parallel::Communicator& comm, const config::Config& cfg,
                 const train::TrainingData& data, const train::Trainer& trainer) {
  const auto& arch = trainer.flow()->architecture();
  print_run_header(log, comm, "train", trainer.backend() + ", " + config::name_of(cfg.model.dtype),
                   config::to_toml(cfg));
  if (!trainer.backend_note().empty()) log.warn(trainer.backend_note());
  log.info("model: " + arch.describe() + ", " + std::to_string(arch.parameter_count()) + " trainable parameters");
  log.info("data: " + std::to_string(data.n_train) + " training rows, " + std::to_string(data.n_validation) +
           " validation rows; rank 0 draws " + std::to_string(trainer.local_batch()) + " of each global batch of " +
           std::to_string(trainer.global_batch()));
  if (cfg.training.batch_size > data.n_train) {
    log.warn("training.batch_size = " + std::to_string(cfg.training.batch_size) + " exceeds the " +
             std::to_string(data.n_train) + " training rows; using the whole training set each step");
  }
}

/// output.dir belongs to this run until it ends: a second run on it is refused, whatever it was
/// asked to do. A --restart of a folder that does not exist takes no lock (and fails later without
/// creating it).
std::unique_ptr<io::OutputLock> claim_output_dir(const CommandLine& cl, const std::string& dir, const Log& log,
                                                 const parallel::Communicator& comm) {
  const bool dir_exists = parallel::root_decides(comm, [&] { return std::filesystem::is_directory(dir); });
  if (!dir_exists && has(cl, "--restart")) return nullptr;
  io::make_directories(dir, comm);
  std::string lock_note;
  auto lock = std::make_unique<io::OutputLock>(dir, dir + "/gwflow.lock", comm, lock_note);
  if (!lock_note.empty()) log.warn(lock_note);
  return lock;
}

/// --restart (or training.restart = "auto"): continues `trainer` from the newest valid checkpoint
/// in `dir`. A fresh run refuses an earlier run's checkpoints (restart would pick theirs, pruning
/// would delete its own) unless --overwrite deletes them.
void continue_or_start(const CommandLine& cl, const config::Config& cfg, train::Trainer& trainer, const Log& log,
                       const parallel::Communicator& comm) {
  const std::string& dir = cfg.output.dir;
  const bool auto_restart = cfg.training.restart == config::Restart::kAuto;
  const auto found = io::list_checkpoints(dir);  // newest first
  // Rank 0 changes the folder while the others wait (once they all listed it).
  const auto on_root = [&](const std::function<void(const std::string&)>& change) {
    comm.barrier();
    parallel::run_on_root(comm, [&] {
      for (const auto& path : found) change(path);
    });
  };
  if (has(cl, "--restart") || auto_restart) {
    for (const auto& path : found) {
      try {
        trainer.restore(io::read_checkpoint_file(path), path, [&](const std::string& m) { log.warn(m); });
        log.info("restart: continuing from " + path + " (iteration " + std::to_string(trainer.iterations_done()) + ")");
        return;
      } catch (const IoError& e) {
        if (!auto_restart) throw;
        log.warn(std::string(e.what()) + "; trying an older checkpoint");
      }
    }
    if (!auto_restart) {
      throw ConfigError("--restart: no checkpoint in " + dir +
                        " (set training.restart = \"auto\" to start fresh when there is none)");
    }
    // Unusable checkpoints go aside (kept for inspection): left in place, a later iteration
    // number would make the pruning delete this run's own checkpoints.
    on_root([&](const std::string& path) {
      std::error_code ec;
      std::filesystem::rename(path, path + ".unusable", ec);
      log.warn("restart: moved the unusable " + path + " aside to " + path + ".unusable");
    });
    log.info("restart: no usable checkpoint in " + dir + ", starting fresh");
  } else if (!found.empty()) {
    if (!has(cl, "--overwrite")) {
      throw ConfigError(dir + " holds checkpoints of an earlier run (" + found.front() +
                        "): continue it with --restart, choose another output.dir, or start afresh with --overwrite");
    }
    on_root([](const std::string& path) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    });
    log.info("--overwrite: deleted " + std::to_string(found.size()) + " checkpoint(s) of an earlier run in " + dir);
  }
}

/// Rank 0 prints a progress line at most twice a second at validations, and after the last
/// iteration.
train::TrainCallbacks progress_printer(const train::Trainer& trainer, const Log& log,
                                       const parallel::Communicator& comm) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t start_iteration = trainer.iterations_done();
  auto last_print = std::make_shared<std::chrono::steady_clock::time_point>(t0 - std::chrono::hours(1));
  train::TrainCallbacks cb;
  cb.progress = [&trainer, &comm, t0, start_iteration, last_print](const train::Progress& p) {
    if (!comm.is_root() || Log::verbosity() < 0) return;
    const auto now = std::chrono::steady_clock::now();
    const bool last = p.iteration + 1 == p.iterations;
    if (!(p.validated && now - *last_print >= std::chrono::milliseconds(500)) && !last) return;
    *last_print = now;
    const auto& hist = trainer.history();
    const double elapsed = std::chrono::duration<double>(now - t0).count();
    const double rate = (p.iteration + 1 - start_iteration) / std::max(elapsed, 1e-9);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "iter %6lld/%lld  train %.4f  val %.4f  metric %.4f (ref %.4f +- %.4f)  %.1f it/s  ETA %s",
                  static_cast<long long>(p.iteration + 1), static_cast<long long>(p.iterations), p.train_loss,
                  hist.validation_loss.empty() ? NAN : hist.validation_loss.back(),
                  hist.valmetric_value.empty() ? NAN : hist.valmetric_value.back(), hist.valmetric_mean,
                  hist.valmetric_std, rate, format_seconds((p.iterations - p.iteration - 1) / rate).c_str());
    std::printf("%s\n", buf);
    std::fflush(stdout);
  };
  cb.message = [&log](const std::string& m) { log.warn(m); };
  return cb;
}

/// Rank 0 writes weights.zip (the published model), history.h5 and the resolved config.toml.
void write_outputs(const config::Config& cfg, const train::Trainer& trainer, const parallel::Communicator& comm) {
  const std::string& dir = cfg.output.dir;
  parallel::run_on_root(comm, [&] {
    io::write_weights(dir + "/weights.zip", trainer.output_state());
    const std::string resolved = config::to_toml(cfg);
    train::save_history(trainer.history(), dir + "/history.h5",
                        {{"gwflow_version", std::string(kVersion)}, {"config", resolved}});
    io::write_file_atomic(dir + "/config.toml", std::vector<char>(resolved.begin(), resolved.end()));
  });
  comm.barrier();
}

/// The closing lines: time, memory, outputs, the published model, the regression fit, and how the
/// run ended. Returns the exit status.
int report_end(const config::Config& cfg, train::Trainer& trainer, int64_t iterations, double train_s, double load_s,
               const std::string& checkpoint, const Log& log, const parallel::Communicator& comm) {
  const std::string& dir = cfg.output.dir;
  const auto& hist = trainer.history();
  const double rss = peak_rss_mib(comm);
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "trained %lld iterations in %s (%.2f ms/iteration; data load %s; peak RSS %.0f MiB per rank); "
                "final validation loss %.5f",
                static_cast<long long>(iterations), format_seconds(train_s).c_str(),
                1e3 * train_s / std::max<int64_t>(iterations, 1), format_seconds(load_s).c_str(), rss,
                hist.validation_loss.empty() ? NAN : hist.validation_loss.back());
  log.summary(buf);
  char ck[256];
  std::snprintf(ck, sizeof ck, " (last checkpoint write %.3f s, %.1f KiB)", trainer.last_checkpoint_seconds(),
                trainer.last_checkpoint_bytes() / 1024.0);
  log.info("wrote " + dir + "/weights.zip, " + dir + "/history.h5, " + dir + "/config.toml, " + checkpoint + ck);
  if (cfg.training.early_stopping && trainer.best_iteration() >= 0) {
    log.info(std::string(trainer.stopped_early() ? "early stopping ended the training; " : "") +
             "weights.zip holds the best model (validation at iteration " + std::to_string(trainer.best_iteration()) +
             ")");
  }
  if (config::is_regression(cfg.training.loss)) {
    const auto r = trainer.regression_summary();
    char rb[256];
    std::snprintf(
        rb, sizeof rb,
        "regression: constant C = %.6f; validation residual log_prob + C - w: mean %.5f, std %.5f (%lld rows)",
        r.constant, r.residual_mean, r.residual_std, static_cast<long long>(r.rows));
    log.info(rb);
  }
  const std::string at = std::to_string(trainer.iterations_done());
  if (trainer.stop_signal() == SIGINT) {
    log.info("stopped by SIGINT after iteration " + at + "; outputs hold the state so far (continue with --restart)");
    return 0;
  }
  if (trainer.stop_signal() != 0) {
    log.info("stopped by a signal after iteration " + at + "; checkpoint written: run again with --restart");
    return kExitStoppedBySignal;
  }
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int run_train(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("train: expected one CONFIG.toml");
  if (has(cl, "--restart") && has(cl, "--overwrite")) {
    throw UsageError("train: --restart continues the run in output.dir and --overwrite discards it; give one of them");
  }
  const Log log(comm);
  const config::Config cfg = config::load_config(cl.positional[0], cl.overrides);
  if (cfg.training.threads > 0) torch::set_num_threads(static_cast<int>(cfg.training.threads));

  const auto t_load = std::chrono::steady_clock::now();
  const train::TrainingData data = train::load_training_data(cfg.data, comm, config::is_regression(cfg.training.loss));
  train::Trainer trainer(cfg, data, comm);
  print_start(log, comm, cfg, data, trainer);
  const double load_s = seconds_since(t_load);

  const auto lock = claim_output_dir(cl, cfg.output.dir, log, comm);
  continue_or_start(cl, cfg, trainer, log, comm);
  // Only now, once the data, the device and a requested restart are known to be good: a run that
  // fails on its input leaves no empty output folder behind.
  io::make_directories(cfg.output.dir, comm);

  const int64_t start_iteration = trainer.iterations_done();
  const auto t0 = std::chrono::steady_clock::now();
  // Signals only set a flag (installed in main): a second Ctrl+C while saving changes nothing.
  trainer.run(progress_printer(trainer, log, comm), cfg.output.dir);
  const std::string checkpoint = trainer.save_checkpoint(cfg.output.dir);
  const double train_s = seconds_since(t0);
  write_outputs(cfg, trainer, comm);
  return report_end(cfg, trainer, trainer.iterations_done() - start_iteration, train_s, load_s, checkpoint, log, comm);
}

}  // namespace gwflow::app
