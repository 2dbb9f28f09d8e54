#include "gwflow/kernels/noise.hpp"

#include <Kokkos_Core.hpp>

#include "gwflow/kernels/philox.hpp"

namespace gwflow::kernels {

void standard_normal_rows(uint64_t seed, int64_t row0, int64_t count, int64_t dim, double* out) {
  using Space = Kokkos::DefaultHostExecutionSpace;
  Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> z(
      out, static_cast<size_t>(count), static_cast<size_t>(dim));
  Kokkos::parallel_for(
      "gwflow::kernels::standard_normal_rows", Kokkos::RangePolicy<Space>(0, count), KOKKOS_LAMBDA(const int64_t i) {
        const RowRandom rng(seed, static_cast<uint64_t>(row0 + i));
        for (int64_t j = 0; j < dim; j += 2) {
          double n1, n2;
          rng.normals(static_cast<uint32_t>(j / 2), n1, n2);
          z(i, j) = n1;
          if (j + 1 < dim) z(i, j + 1) = n2;
        }
      });
  Space().fence();
}

}  // namespace gwflow::kernels
