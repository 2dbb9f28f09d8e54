// gwflow: thin driver. Sets up MPI/Kokkos/torch, parses the command line, dispatches, and turns
// every error into one line on stderr and a non-zero exit code.
#include <c10/util/Exception.h>
#include <mpi.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "gwflow/app/cli.hpp"
#include "gwflow/app/commands.hpp"
#include "gwflow/app/log.hpp"
#include "gwflow/errors.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/parallel/environment.hpp"
#include "gwflow/parallel/signals.hpp"
#include "gwflow/version.hpp"

namespace {

/// After an error: if every rank reached this point within a few seconds (the usual case:
/// a config or input error seen by all), rank 0 prints the message and all exit normally.
/// A rank that failed alone prints its message with its rank and aborts the job, so that the
/// other ranks do not wait forever in a collective.
[[noreturn]] void fail(const std::string& raw_message, int code) {
  const std::string message = gwflow::app::one_line(raw_message);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  bool all_failed = size == 1;
  if (!all_failed) {
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int done = 0;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    all_failed = done != 0;
  }
  if (all_failed) {
    if (rank == 0) std::cerr << "gwflow: error: " << message << std::endl;
    MPI_Finalize();
    std::exit(code);
  }
  std::cerr << "gwflow: error: [rank " << rank << "] " << message << std::endl;
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  gwflow::parallel::Environment env(&argc, &argv);
  gwflow::io::silence_hdf5_errors();
  const auto& comm = env.world();
  try {
    const auto cl = gwflow::app::parse_command_line(argc, argv);
    if (cl.version) {
      if (comm.is_root()) {
        std::cout << "gwflow " << gwflow::kVersion << " (commit " << gwflow::kGitCommit << ")" << std::endl;
      }
      return 0;
    }
    gwflow::app::Log::set_verbosity(cl.options.count("--quiet") ? -1 : (cl.options.count("--verbose") ? 1 : 0));
    if (cl.help) {
      if (comm.is_root()) std::cout << gwflow::app::help_text(cl.command);
      return 0;
    }
    // For the long-running commands SIGINT/SIGTERM/SIGUSR1 only set a flag, checked at their step
    // boundaries, from the first instant (a signal during start-up is honoured at the first one).
    // The handlers stay installed until the process ends (deliberately never uninstalled): a
    // signal arriving while the job shuts down must not turn a finished job into a killed one.
    if (cl.command == "train" || cl.command == "sample" || cl.command == "logprob") {
      static auto* signals = new gwflow::parallel::StopSignals();
      (void)signals;
    }
    if (cl.command == "train") return gwflow::app::run_train(cl, comm);
    if (cl.command == "sample") return gwflow::app::run_sample(cl, comm);
    if (cl.command == "logprob") return gwflow::app::run_logprob(cl, comm);
    if (cl.command == "info") return gwflow::app::run_info(cl, comm);
    if (cl.command == "make-data") return gwflow::app::run_make_data(cl, comm);
    if (cl.command == "import-dataset") return gwflow::app::run_import_dataset(cl, comm);
    throw gwflow::UsageError("unknown command '" + cl.command + "'");
  } catch (const gwflow::UsageError& e) {
    fail(std::string(e.what()) + " (see gwflow --help)", 2);
  } catch (const gwflow::Error& e) {
    fail(e.what(), 1);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    fail("internal tensor error: " + what.substr(0, what.find('\n')), 1);
  } catch (const std::exception& e) {
    fail(std::string("internal error: ") + e.what(), 1);
  }
}
