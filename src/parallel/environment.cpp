#include "gwflow/parallel/environment.hpp"

#include <Kokkos_Core.hpp>
#include <torch/utils.h>

#include <cstdlib>

namespace gwflow::parallel {

Environment::Environment(int* argc, char*** argv, int torch_threads) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    owns_mpi_ = true;
  }
  world_ = std::make_unique<Communicator>(MPI_COMM_WORLD);
  if (!Kokkos::is_initialized()) {
#if KOKKOS_VERSION >= 40000
    Kokkos::initialize(Kokkos::InitializationSettings().set_disable_warnings(true));
#else
    Kokkos::InitArguments args;
    args.disable_warnings = true;
    Kokkos::initialize(args);
#endif
    owns_kokkos_ = true;
  }
  if (torch_threads <= 0) {
    const char* omp = std::getenv("OMP_NUM_THREADS");
    if (omp && std::atoi(omp) > 0) {
      torch_threads = std::atoi(omp);
    } else if (world_->size() > 1) {
      torch_threads = 1;  // one rank per core is the usual MPI layout
    }
  }
  if (torch_threads > 0) torch::set_num_threads(torch_threads);
}

Environment::~Environment() {
  world_.reset();
  if (owns_kokkos_ && Kokkos::is_initialized()) Kokkos::finalize();
  if (owns_mpi_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

void Environment::abort(int code) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void Environment::finalize_and_exit(int code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
  std::exit(code);
}

}  // namespace gwflow::parallel
