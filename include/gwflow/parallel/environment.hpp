#pragma once
// Environment: initialises and finalises MPI and Kokkos, and sets LibTorch's thread count (RAII).
#include <memory>

#include "gwflow/parallel/communicator.hpp"

namespace gwflow::parallel {

/// Create exactly one per process, first thing in main (or in a test main).
/// Collective over MPI_COMM_WORLD. `torch_threads` <= 0 means: 1 when several ranks share the
/// node, else the OMP_NUM_THREADS value or LibTorch's default.
class Environment {
 public:
  Environment(int* argc, char*** argv, int torch_threads = 0);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// The world communicator (a dup of MPI_COMM_WORLD).
  const Communicator& world() const { return *world_; }
  /// Aborts every rank (use after an error on only some ranks).
  [[noreturn]] static void abort(int code);
  /// Finalizes MPI and exits with `code` (after an error that every rank saw).
  [[noreturn]] static void finalize_and_exit(int code);

 private:
  bool owns_mpi_ = false;
  bool owns_kokkos_ = false;
  std::unique_ptr<Communicator> world_;
};

}  // namespace gwflow::parallel
