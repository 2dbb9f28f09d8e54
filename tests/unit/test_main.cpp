// Unit-test main: MPI, Kokkos and torch set up once (one rank), floating-point traps off, and
// torch's default generator seeded before every test. LibTorch 1.13 started every process from
// one fixed seed; LibTorch 2.x seeds it at random, so a test that draws without seeding would
// see other numbers in every run.
#include <gtest/gtest.h>
#include <torch/utils.h>

#include "gwflow/io/hdf5.hpp"
#include "gwflow/parallel/environment.hpp"

namespace {
class SeedTorchPerTest : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& /*test*/) override { torch::manual_seed(67280421310721ULL); }
};
}  // namespace

int main(int argc, char** argv) {
  gwflow::parallel::Environment env(&argc, &argv, 1);
  gwflow::io::silence_hdf5_errors();
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new SeedTorchPerTest);
  return RUN_ALL_TESTS();
}
