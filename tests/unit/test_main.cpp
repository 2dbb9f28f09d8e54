// Unit-test main: MPI, Kokkos and torch set up once (one rank), floating-point traps off, and
// torch's default generator seeded before every test (seed_torch_per_test.hpp).
#include <gtest/gtest.h>

#include "../seed_torch_per_test.hpp"
#include "gwflow/io/hdf5.hpp"
#include "gwflow/parallel/environment.hpp"

int main(int argc, char** argv) {
  gwflow::parallel::Environment env(&argc, &argv, 1);
  gwflow::io::silence_hdf5_errors();
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new gwflow::test::SeedTorchPerTest);
  return RUN_ALL_TESTS();
}
