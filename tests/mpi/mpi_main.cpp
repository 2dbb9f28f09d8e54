// MPI test main: run under mpiexec -n 2. Rank 0 prints the usual report; other ranks print only
// their failures (prefixed with the rank); the exit code is the OR over all ranks. Torch's
// default generator is seeded before every test, on every rank alike (LibTorch 2.x seeds it at
// random in every process).
#include <gtest/gtest.h>
#include <mpi.h>

#include <iostream>

#include "../seed_torch_per_test.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/parallel/environment.hpp"

namespace {

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed()) {
      std::cerr << "[rank " << rank_ << "] " << (r.file_name() ? r.file_name() : "") << ":" << r.line_number()
                << ": failure\n"
                << r.summary() << std::endl;
    }
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  gwflow::parallel::Environment env(&argc, &argv, 1);
  gwflow::io::silence_hdf5_errors();
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new gwflow::test::SeedTorchPerTest);
  const int rank = env.world().rank();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  int failed = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return failed;
}
