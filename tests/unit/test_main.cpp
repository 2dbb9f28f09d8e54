// Unit-test main: MPI, Kokkos and torch set up once (one rank), floating-point traps off.
#include <gtest/gtest.h>

#include "gwflow/io/hdf5.hpp"
#include "gwflow/parallel/environment.hpp"

int main(int argc, char** argv) {
  gwflow::parallel::Environment env(&argc, &argv, 1);
  gwflow::io::silence_hdf5_errors();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
