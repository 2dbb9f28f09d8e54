#pragma once
// One function per subcommand. Each is collective over `comm` and returns the exit code.
#include "gwflow/app/cli.hpp"
#include "gwflow/parallel/communicator.hpp"

namespace gwflow::app {

/// Exit code after a stop signal once a checkpoint is written (docs/cli.md sec. 4): run again to continue.
inline constexpr int kExitStoppedBySignal = 75;

int run_train(const CommandLine& cl, const parallel::Communicator& comm);
int run_sample(const CommandLine& cl, const parallel::Communicator& comm);
int run_logprob(const CommandLine& cl, const parallel::Communicator& comm);
int run_info(const CommandLine& cl, const parallel::Communicator& comm);
int run_make_data(const CommandLine& cl, const parallel::Communicator& comm);
/// Rank 0 converts an mbank dataset text file to HDF5; the others wait and fail alike.
int run_import_dataset(const CommandLine& cl, const parallel::Communicator& comm);

}  // namespace gwflow::app
