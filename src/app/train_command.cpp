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

int run_train(const CommandLine& cl, const parallel::Communicator& comm) {
  if (cl.positional.size() != 1) throw UsageError("train: expected one CONFIG.toml");
  if (cl.options.count("--restart") && cl.options.count("--overwrite")) {
    throw UsageError("train: --restart continues the run in output.dir and --overwrite discards it; give one of them");
  }
  const Log log(comm);
  const config::Config cfg = config::load_config(cl.positional[0], cl.overrides);
  if (cfg.training.threads > 0) torch::set_num_threads(static_cast<int>(cfg.training.threads));
  const std::string dir = cfg.output.dir;

  const auto t_load = std::chrono::steady_clock::now();
  const bool regression = config::is_regression(cfg.training.loss);
  const train::TrainingData data = train::load_training_data(cfg.data, comm, regression);
  train::Trainer trainer(cfg, data, comm);
  const auto& arch = trainer.flow()->architecture();
  print_run_header(log, comm, "train", trainer.backend() + ", " + config::name_of(cfg.model.dtype),
                   config::to_toml(cfg));
  if (!trainer.backend_note().empty()) log.warn(trainer.backend_note());
  log.info("model: " + arch.describe() + ", " + std::to_string(arch.parameter_count()) + " trainable parameters");
  log.info(
      "data: " + std::to_string(data.n_train) + " training rows, " + std::to_string(data.n_validation) +
      " validation rows; rank 0 draws " + std::to_string(trainer.local_batch()) + " of each global batch of " +
      std::to_string(cfg.training.batch_size == 0 ? data.n_train : std::min(cfg.training.batch_size, data.n_train)));
  if (cfg.training.batch_size > data.n_train) {
    log.warn("training.batch_size = " + std::to_string(cfg.training.batch_size) + " exceeds the " +
             std::to_string(data.n_train) + " training rows; using the whole training set each step");
  }
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  // --restart (or training.restart = "auto"): continue from the newest valid checkpoint.
  const bool auto_restart = cfg.training.restart == config::Restart::kAuto;
  // output.dir belongs to this run until it ends: a second run on it is refused, whatever it was
  // asked to do. (A --restart of a folder that does not exist fails below without creating it.)
  std::unique_ptr<io::OutputLock> lock;
  int dir_exists = comm.is_root() && std::filesystem::is_directory(dir) ? 1 : 0;
  comm.broadcast(dir_exists);
  if (dir_exists || !cl.options.count("--restart")) {
    io::make_directories(dir, comm);
    std::string lock_note;
    lock = std::make_unique<io::OutputLock>(dir, dir + "/gwflow.lock", comm, lock_note);
    if (!lock_note.empty()) log.warn(lock_note);
  }
  const auto found = io::list_checkpoints(dir);  // newest first
  // Rank 0 changes the folder while the others wait (they all listed it first).
  const auto on_root = [&](const std::function<void(const std::string&)>& change) {
    comm.barrier();
    if (comm.is_root()) {
      for (const auto& path : found) change(path);
    }
    comm.barrier();
  };
  if (cl.options.count("--restart") || auto_restart) {
    bool restored = false;
    for (const auto& path : found) {
      try {
        trainer.restore(io::read_checkpoint_file(path), path, [&](const std::string& m) { log.warn(m); });
        log.info("restart: continuing from " + path + " (iteration " + std::to_string(trainer.iterations_done()) + ")");
        restored = true;
        break;
      } catch (const IoError& e) {
        if (!auto_restart) throw;
        log.warn(std::string(e.what()) + "; trying an older checkpoint");
      }
    }
    if (!restored) {
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
    }
  } else if (!found.empty()) {
    // A fresh run must not mix its checkpoints with an earlier run's (restart would pick theirs,
    // pruning would delete its own).
    if (!cl.options.count("--overwrite")) {
      throw ConfigError(dir + " holds checkpoints of an earlier run (" + found.front() +
                        "): continue it with --restart, choose another output.dir, or start afresh with --overwrite");
    }
    on_root([](const std::string& path) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    });
    log.info("--overwrite: deleted " + std::to_string(found.size()) + " checkpoint(s) of an earlier run in " + dir);
  }
  // Only now, once the data, the device and a requested restart are known to be good: a run that
  // fails on its input leaves no empty output folder behind.
  io::make_directories(dir, comm);
  const int64_t start_iteration = trainer.iterations_done();

  train::TrainCallbacks cb;
  const auto t0 = std::chrono::steady_clock::now();
  auto last_print = t0 - std::chrono::hours(1);
  const auto& hist = trainer.history();
  cb.progress = [&](const train::Progress& p) {
    if (!comm.is_root() || Log::verbosity() < 0) return;
    const auto now = std::chrono::steady_clock::now();
    const bool last = p.iteration + 1 == p.iterations;
    if (!(p.validated && now - last_print >= std::chrono::milliseconds(500)) && !last) return;
    last_print = now;
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
  cb.message = [&](const std::string& m) { log.warn(m); };

  // Signals only set a flag (installed in main): a second Ctrl+C while saving changes nothing.
  trainer.run(cb, dir);
  const std::string checkpoint = trainer.save_checkpoint(dir);
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::string weights_path = dir + "/weights.zip", history_path = dir + "/history.h5";
  parallel::run_on_root(comm, [&] {
    io::write_weights(weights_path, trainer.output_state());
    const std::string resolved = config::to_toml(cfg);
    train::save_history(trainer.history(), history_path,
                        {{"gwflow_version", std::string(kVersion)}, {"config", resolved}});
    io::write_file_atomic(dir + "/config.toml", std::vector<char>(resolved.begin(), resolved.end()));
  });
  comm.barrier();
  const int64_t done = trainer.iterations_done() - start_iteration;
  const double rss = peak_rss_mib(comm);
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "trained %lld iterations in %s (%.2f ms/iteration; data load %s; peak RSS %.0f MiB per rank); "
                "final validation loss %.5f",
                static_cast<long long>(done), format_seconds(train_s).c_str(),
                1e3 * train_s / std::max<int64_t>(done, 1), format_seconds(load_s).c_str(), rss,
                hist.validation_loss.empty() ? NAN : hist.validation_loss.back());
  log.summary(buf);
  char ck[256];
  std::snprintf(ck, sizeof ck, " (last checkpoint write %.3f s, %.1f KiB)", trainer.last_checkpoint_seconds(),
                trainer.last_checkpoint_bytes() / 1024.0);
  log.info("wrote " + weights_path + ", " + history_path + ", " + dir + "/config.toml, " + checkpoint + ck);
  const std::string at = std::to_string(trainer.iterations_done());
  if (cfg.training.early_stopping && trainer.best_iteration() >= 0) {
    log.info(std::string(trainer.stopped_early() ? "early stopping ended the training; " : "") +
             "weights.zip holds the best model (validation at iteration " + std::to_string(trainer.best_iteration()) +
             ")");
  }
  if (regression) {
    const auto r = trainer.regression_summary();
    char rb[256];
    std::snprintf(
        rb, sizeof rb,
        "regression: constant C = %.6f; validation residual log_prob + C - w: mean %.5f, std %.5f (%lld rows)",
        r.constant, r.residual_mean, r.residual_std, static_cast<long long>(r.rows));
    log.info(rb);
  }
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

}  // namespace gwflow::app
