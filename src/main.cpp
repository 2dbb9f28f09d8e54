// gwflow: thin driver. Sets up MPI/Kokkos/torch, parses the command line, dispatches, and turns
// every error into one line on stderr and a non-zero exit code.
#include <c10/util/Exception.h>

#include <iostream>

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
[[noreturn]] void fail(const gwflow::parallel::Communicator& world, const std::string& raw_message, int code) {
  using gwflow::parallel::Environment;
  const std::string message = gwflow::app::one_line(raw_message);
  if (world.size() == 1 || world.barrier_within(10.0)) {
    if (world.is_root()) std::cerr << "gwflow: error: " << message << std::endl;
    Environment::finalize_and_exit(code);
  }
  std::cerr << "gwflow: error: [rank " << world.rank() << "] " << message << std::endl;
  Environment::abort(code);
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
    fail(comm, std::string(e.what()) + " (see gwflow --help)", 2);
  } catch (const gwflow::Error& e) {
    fail(comm, e.what(), 1);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    fail(comm, "internal tensor error: " + what.substr(0, what.find('\n')), 1);
  } catch (const std::exception& e) {
    fail(comm, std::string("internal error: ") + e.what(), 1);
  }
}
