# The tile kernels (src/kernels/tile_kernels.cpp), compiled once per instruction-set variant into
# gwflow_core, each in its own namespace with its own entry point; src/kernels/isa.cpp picks one
# at run time (GWFLOW_KERNEL_ISA overrides). Only these objects get -march flags: the rest of the
# binary is built for the compiler's baseline, so it starts on any CPU of the architecture.
#
#   default, x86-64: v4 (-march=x86-64-v4: AVX-512, 64-byte vectors, 32 registers),
#                    v3 (-march=x86-64-v3: AVX2 + FMA, 32-byte vectors, 16 registers),
#                    v2 (-march=x86-64-v2: SSE4.2, 16-byte vectors, 16 registers),
#                    portable (the baseline, for CPUs below v2)
#   default, other:  portable (the compiler's default target: NEON on aarch64)
#   GWFLOW_KERNEL_ARCH=X: one variant, "custom", with -march=X (e.g. native), and no other.
include(CheckCXXCompilerFlag)

function(gwflow_kernel_variant name target)
  set(flags ${ARGN})
  if(flags)
    string(MAKE_C_IDENTIFIER "GWFLOW_KERNEL_FLAGS_OK_${name}_${flags}" ok)
    string(REPLACE ";" " " flag_string "${flags}")
    check_cxx_compiler_flag("${flag_string}" ${ok})
    if(NOT ${ok})
      message(FATAL_ERROR "gwflow: the compiler rejects '${flags}' for the ${name} kernel variant "
                          "(GCC >= 11 or Clang >= 12 knows the x86-64-vN levels; or set GWFLOW_KERNEL_ARCH)")
    endif()
  endif()
  set(lib gwflow_kernels_${name})
  add_library(${lib} OBJECT ${CMAKE_CURRENT_SOURCE_DIR}/src/kernels/tile_kernels.cpp)
  target_include_directories(${lib} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_compile_options(${lib} PRIVATE ${flags} -Wall -Wextra -Wno-unused-parameter)
  target_compile_definitions(${lib} PRIVATE GWFLOW_KERNEL_ISA_NS=isa_${name}
                                            GWFLOW_KERNEL_ISA_ENTRY=isa_kernels_${name}
                                            GWFLOW_KERNEL_ISA_NAME="${name}" GWFLOW_KERNEL_ISA_TARGET="${target}")
  if(GWFLOW_SANITIZE)
    target_compile_options(${lib} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
  endif()
  target_sources(gwflow_core PRIVATE $<TARGET_OBJECTS:${lib}>)
  string(TOUPPER ${name} upper)
  # Only the dispatcher needs to know (a flag on all of gwflow_core would rebuild it whole).
  set_property(SOURCE ${CMAKE_CURRENT_SOURCE_DIR}/src/kernels/isa.cpp APPEND PROPERTY COMPILE_DEFINITIONS
                                                                                  GWFLOW_KERNEL_ISA_${upper})
  list(APPEND GWFLOW_KERNEL_VARIANTS ${name})
  set(GWFLOW_KERNEL_VARIANTS ${GWFLOW_KERNEL_VARIANTS} PARENT_SCOPE)
endfunction()

set(GWFLOW_KERNEL_VARIANTS "")
if(GWFLOW_KERNEL_ARCH)
  gwflow_kernel_variant(custom "-march=${GWFLOW_KERNEL_ARCH}" -march=${GWFLOW_KERNEL_ARCH})
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  # v4 is tuned as the common AVX-512 server cores (256-bit auto-vectorisation, explicit 64-byte
  # vectors in the products), as the earlier -march=native builds on such Xeons were.
  gwflow_kernel_variant(v4 x86-64-v4 -march=x86-64-v4 -mtune=skylake-avx512)
  gwflow_kernel_variant(v3 x86-64-v3 -march=x86-64-v3)
  gwflow_kernel_variant(v2 x86-64-v2 -march=x86-64-v2)
  gwflow_kernel_variant(portable x86-64)
else()
  gwflow_kernel_variant(portable ${CMAKE_SYSTEM_PROCESSOR})
endif()
message(STATUS "gwflow: kernel variants: ${GWFLOW_KERNEL_VARIANTS}")
