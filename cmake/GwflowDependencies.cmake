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

# LibTorch from a pip-installed torch (2.x, often with CUDA): -DGWFLOW_TORCH_PYTHON=/path/to/python
# searches that python's torch.utils.cmake_prefix_path (the same as passing it in CMAKE_PREFIX_PATH).
set(GWFLOW_TORCH_PYTHON "" CACHE FILEPATH "A python whose pip-installed torch provides LibTorch")
set(GWFLOW_TORCH_PY_VERSION "")
set(GWFLOW_TORCH_PY_CUDA "")
if(GWFLOW_TORCH_PYTHON)
  execute_process(
    COMMAND "${GWFLOW_TORCH_PYTHON}" -c "import torch; print(torch.utils.cmake_prefix_path); print(torch.__version__); print(torch.version.cuda or '')"
    OUTPUT_VARIABLE _gwflow_torch_py RESULT_VARIABLE _gwflow_rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _gwflow_rc EQUAL 0)
    message(FATAL_ERROR "gwflow: GWFLOW_TORCH_PYTHON = ${GWFLOW_TORCH_PYTHON} cannot import torch (pip install torch there, or point it at another python).")
  endif()
  string(REPLACE "\n" ";" _gwflow_torch_py "${_gwflow_torch_py}")
  list(GET _gwflow_torch_py 0 _gwflow_torch_prefix)
  list(GET _gwflow_torch_py 1 GWFLOW_TORCH_PY_VERSION)
  list(LENGTH _gwflow_torch_py _n)
  if(_n GREATER 2)
    list(GET _gwflow_torch_py 2 GWFLOW_TORCH_PY_CUDA)
  endif()
  list(PREPEND CMAKE_PREFIX_PATH "${_gwflow_torch_prefix}")
  # A CUDA torch's CMake files enable CUDA and run nvcc: find it here, and say so clearly if absent.
  if(GWFLOW_TORCH_PY_CUDA AND NOT CMAKE_CUDA_COMPILER)
    find_program(GWFLOW_NVCC nvcc HINTS ${CUDAToolkit_ROOT}/bin $ENV{CUDA_HOME}/bin /usr/local/cuda/bin)
    set(_nvcc_rc 1)
    if(GWFLOW_NVCC)
      execute_process(COMMAND "${GWFLOW_NVCC}" --version RESULT_VARIABLE _nvcc_rc OUTPUT_QUIET ERROR_QUIET)
    endif()
    if(NOT _nvcc_rc EQUAL 0)
      unset(GWFLOW_NVCC CACHE)
      message(FATAL_ERROR "gwflow: the torch of ${GWFLOW_TORCH_PYTHON} (${GWFLOW_TORCH_PY_VERSION}) is built with CUDA "
                          "${GWFLOW_TORCH_PY_CUDA}; its CMake files need the CUDA toolkit's nvcc. Set CUDAToolkit_ROOT "
                          "(e.g. /usr/local/cuda) or load the CUDA module.")
    endif()
    set(CMAKE_CUDA_COMPILER "${GWFLOW_NVCC}")
  endif()
endif()

find_package(Torch QUIET)
gwflow_require(Torch_FOUND "LibTorch" "Install libtorch-dev, or point CMake at a pip torch with -DGWFLOW_TORCH_PYTHON=/path/to/python (or set Torch_DIR).")
if(DEFINED Torch_VERSION AND Torch_VERSION VERSION_LESS 1.13)
  message(FATAL_ERROR "gwflow: LibTorch ${Torch_VERSION} is too old (need >= 1.13).")
endif()
# Kokkos, TOML++ and GoogleTest use the C++11 string ABI; a LibTorch built with the old one (pip
# wheels before torch 2.7, the "pre-cxx11" LibTorch archives) would fail to link, far from the cause.
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  message(FATAL_ERROR "gwflow: LibTorch ${Torch_VERSION} (${TORCH_INSTALL_PREFIX}) is built with the pre-C++11 string ABI "
                      "(_GLIBCXX_USE_CXX11_ABI=0), which gwflow's other C++ libraries do not use: take torch >= 2.7 "
                      "from PyPI or the cxx11-abi LibTorch archive.")
endif()
# LibTorch's mkl.cmake lists ${MKL_ROOT}/lib/intel64 and others as link folders even when MKL_ROOT
# is empty (pytorch issue 73008): /lib/intel64, /lib/win-x64 ... would reach the link line and the
# installed binary's RUNPATH. Keep the folders that exist.
if(TARGET caffe2::mkl)
  get_target_property(_mkl_dirs caffe2::mkl INTERFACE_LINK_DIRECTORIES)
  if(_mkl_dirs)
    set(_kept "")
    foreach(_d IN LISTS _mkl_dirs)
      if(IS_DIRECTORY "${_d}")
        list(APPEND _kept "${_d}")
      endif()
    endforeach()
    set_property(TARGET caffe2::mkl PROPERTY INTERFACE_LINK_DIRECTORIES "${_kept}")
  endif()
endif()
# A pip torch's CUDA libraries come from the nvidia-* wheels installed beside it.
set(_torch_wheel_nvidia "${TORCH_INSTALL_PREFIX}/../nvidia")
# A pip torch's libraries load the CUDA runtime of the nvidia wheels (through their RUNPATH), but
# LibTorch's CMake files link the toolkit's (CUDA::cudart), whose folder the executable's RUNPATH
# then lists first: torch would run on the toolkit's runtime (13.0 here) instead of the one it was
# built with (13.2). Link the wheel's runtime everywhere, so that the process has that one only.
if(TARGET CUDA::cudart AND TORCH_INSTALL_PREFIX)
  file(GLOB _wheel_cudart "${_torch_wheel_nvidia}/cu[0-9]*/lib/libcudart.so.[0-9]*"
       "${_torch_wheel_nvidia}/cuda_runtime/lib/libcudart.so.[0-9]*")
  if(_wheel_cudart)
    list(GET _wheel_cudart 0 _wheel_cudart)
    get_filename_component(GWFLOW_WHEEL_CUDART "${_wheel_cudart}" REALPATH)
    set_property(TARGET CUDA::cudart PROPERTY IMPORTED_LOCATION "${GWFLOW_WHEEL_CUDART}")
  endif()
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

set(GWFLOW_NCCL_VERSION "")
if(GWFLOW_ENABLE_NCCL)
  find_package(CUDAToolkit QUIET)
  gwflow_require(CUDAToolkit_FOUND "CUDA toolkit" "Set CUDAToolkit_ROOT (e.g. /usr/local/cuda).")
  if(GWFLOW_TORCH_PY_CUDA)
    string(REGEX MATCH "^[0-9]+" _torch_cuda_major "${GWFLOW_TORCH_PY_CUDA}")
    if(NOT _torch_cuda_major EQUAL CUDAToolkit_VERSION_MAJOR)
      message(FATAL_ERROR "gwflow: torch ${GWFLOW_TORCH_PY_VERSION} is built with CUDA ${GWFLOW_TORCH_PY_CUDA} but the CUDA "
                          "toolkit found is ${CUDAToolkit_VERSION} (${CUDAToolkit_BIN_DIR}): use a toolkit of the same major "
                          "version (CUDAToolkit_ROOT), or the torch wheel for your toolkit.")
    endif()
  endif()
  # A pip torch ships its own NCCL (the nvidia-nccl wheel), which its libtorch_cuda loads: build
  # against that one, so that one NCCL is in the process. Otherwise the toolkit's.
  set(_nccl_hints "")
  if(TORCH_INSTALL_PREFIX AND EXISTS "${_torch_wheel_nvidia}/nccl/include/nccl.h")
    get_filename_component(_wheel_nccl "${_torch_wheel_nvidia}/nccl" REALPATH)
    list(APPEND _nccl_hints "${_wheel_nccl}")
  endif()
  list(APPEND _nccl_hints "${CUDAToolkit_LIBRARY_ROOT}" /usr/local/cuda)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  get_filename_component(_nccl_root "${NCCL_INCLUDE_DIR}" DIRECTORY)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR HINTS "${_nccl_root}" ${_nccl_hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64)
  gwflow_require(NCCL_LIBRARY "NCCL" "Set NCCL_INCLUDE_DIR and NCCL_LIBRARY.")
  file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_defs REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*#define NCCL_${_part} ([0-9]+).*" "\\1" _v_${_part} "${_nccl_defs}")
  endforeach()
  set(GWFLOW_NCCL_VERSION "${_v_MAJOR}.${_v_MINOR}.${_v_PATCH}")
  if(GWFLOW_NCCL_VERSION VERSION_LESS 2.7)
    message(FATAL_ERROR "gwflow: NCCL ${GWFLOW_NCCL_VERSION} (${NCCL_INCLUDE_DIR}) is too old (need >= 2.7).")
  endif()
endif()

message(STATUS "gwflow: MPI ${MPI_C_VERSION}, HDF5 ${HDF5_VERSION} (parallel), LibTorch ${Torch_VERSION}, "
               "Kokkos ${Kokkos_VERSION}, TOML++ ${tomlplusplus_VERSION}")
set(_torch_desc "LibTorch ${Torch_VERSION}")
if(GWFLOW_TORCH_PY_VERSION)
  set(_torch_desc "torch ${GWFLOW_TORCH_PY_VERSION} (${TORCH_INSTALL_PREFIX}, from ${GWFLOW_TORCH_PYTHON})")
endif()
if(GWFLOW_TORCH_PY_CUDA)
  string(APPEND _torch_desc ", CUDA ${GWFLOW_TORCH_PY_CUDA}")
endif()
if(GWFLOW_WHEEL_CUDART)
  string(APPEND _torch_desc ", CUDA runtime ${GWFLOW_WHEEL_CUDART}")
endif()
if(GWFLOW_ENABLE_NCCL)
  string(APPEND _torch_desc ", CUDA toolkit ${CUDAToolkit_VERSION}, NCCL ${GWFLOW_NCCL_VERSION} (${NCCL_LIBRARY})")
endif()
message(STATUS "gwflow: built against ${_torch_desc}")
