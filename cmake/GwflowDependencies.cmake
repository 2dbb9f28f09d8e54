# Finds gwflow's dependencies (Debian 12 packages; see README "Install") and checks that their
# versions are ones gwflow was tested with. Every failure stops the configure with one clear line.

macro(gwflow_require found what hint)
  if(NOT ${found})
    message(FATAL_ERROR "gwflow: ${what} not found. ${hint}")
  endif()
endmacro()

find_package(MPI COMPONENTS C)
gwflow_require(MPI_C_FOUND "MPI (C bindings)" "Install libopenmpi-dev openmpi-bin.")

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 COMPONENTS C)
gwflow_require(HDF5_FOUND "HDF5" "Install libhdf5-openmpi-dev.")
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "gwflow: the HDF5 found (${HDF5_C_INCLUDE_DIRS}) is serial; gwflow needs "
                      "parallel HDF5. Install libhdf5-openmpi-dev.")
endif()
if(HDF5_VERSION VERSION_LESS 1.10)
  message(FATAL_ERROR "gwflow: HDF5 ${HDF5_VERSION} is too old (need >= 1.10).")
endif()

find_package(Torch QUIET)
gwflow_require(Torch_FOUND "LibTorch" "Install libtorch-dev (or set Torch_DIR).")
if(DEFINED Torch_VERSION AND Torch_VERSION VERSION_LESS 1.13)
  message(FATAL_ERROR "gwflow: LibTorch ${Torch_VERSION} is too old (need >= 1.13).")
endif()
# LibTorch's headers need C++20 from 2.12 on.
if(DEFINED Torch_VERSION AND Torch_VERSION VERSION_GREATER_EQUAL 2.12)
  set(CMAKE_CXX_STANDARD 20)
endif()

find_package(Kokkos QUIET)
gwflow_require(Kokkos_FOUND "Kokkos" "Install libtrilinos-kokkos-dev (or set Kokkos_DIR).")
if(Kokkos_VERSION VERSION_LESS 3.4)
  message(FATAL_ERROR "gwflow: Kokkos ${Kokkos_VERSION} is too old (need >= 3.4).")
endif()
# Debian's Kokkos target points at /usr/lib/include; use the real header directory.
if(Kokkos_INCLUDE_DIRS)
  set(_gwflow_kokkos_inc "")
  foreach(_d ${Kokkos_INCLUDE_DIRS})
    get_filename_component(_r "${_d}" REALPATH)
    list(APPEND _gwflow_kokkos_inc "${_r}")
  endforeach()
  if(EXISTS /usr/include/trilinos/Kokkos_Core.hpp)
    list(APPEND _gwflow_kokkos_inc /usr/include/trilinos)
  endif()
  set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_gwflow_kokkos_inc}")
endif()
if(Kokkos_ENABLE_CUDA OR KOKKOS_ENABLE_CUDA)
  # The kernels are device-callable (no std:: in them, Kokkos math, functors), but their scratch
  # and gradient reductions are laid out for CPU tiles: they run in the host space here, and
  # device = "cuda" uses the LibTorch backend (gwflow says so at start).
  message(STATUS "gwflow: this Kokkos has CUDA; the fused kernels run on the host, GPU runs use LibTorch")
endif()

find_package(tomlplusplus QUIET)
gwflow_require(tomlplusplus_FOUND "TOML++" "Install libtomlplusplus-dev.")
if(tomlplusplus_VERSION VERSION_LESS 3.0)
  message(FATAL_ERROR "gwflow: TOML++ ${tomlplusplus_VERSION} is too old (need >= 3.0).")
endif()

if(GWFLOW_BUILD_TESTS)
  find_package(GTest QUIET)
  gwflow_require(GTest_FOUND "GoogleTest" "Install libgtest-dev (or configure with -DGWFLOW_BUILD_TESTS=OFF).")
endif()

if(GWFLOW_ENABLE_NCCL)
  find_package(CUDAToolkit QUIET)
  gwflow_require(CUDAToolkit_FOUND "CUDA toolkit" "Set CUDAToolkit_ROOT (e.g. /usr/local/cuda).")
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
  gwflow_require(NCCL_LIBRARY "NCCL" "Set NCCL_INCLUDE_DIR and NCCL_LIBRARY.")
endif()

message(STATUS "gwflow: MPI ${MPI_C_VERSION}, HDF5 ${HDF5_VERSION} (parallel), LibTorch ${Torch_VERSION}, "
               "Kokkos ${Kokkos_VERSION}, TOML++ ${tomlplusplus_VERSION}")
