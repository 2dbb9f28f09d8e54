#!/usr/bin/env bash
# ctest aarch64_portable: the kernels on a non-x86 target. src/kernels/tile_kernels.cpp (the
# portable variant: no -march, NEON through GCC's vector extensions) and tests/isa/
# portable_smoke.cpp are cross-compiled for aarch64 and run under qemu-aarch64. The rest of gwflow
# needs aarch64 builds of LibTorch, Kokkos, MPI and HDF5, which this x86-64 machine does not have.
# Exit 77 (skipped) without aarch64-linux-gnu-g++ (Debian: g++-aarch64-linux-gnu) or qemu-aarch64.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v aarch64-linux-gnu-g++ >/dev/null || { echo "aarch64-linux-gnu-g++ not found: skipped"; exit 77; }
command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 not found: skipped"; exit 77; }
work=$(mktemp -d /tmp/gwflow_aarch64.XXXXXX)
trap 'rm -rf "$work"' EXIT
flags=(-std=c++17 -O3 -Wall -Wextra -Wno-unused-parameter -Werror -I"$src/include")
aarch64-linux-gnu-g++ "${flags[@]}" -DGWFLOW_KERNEL_ISA_NS=isa_portable -DGWFLOW_KERNEL_ISA_ENTRY=isa_kernels_portable \
  -DGWFLOW_KERNEL_ISA_NAME='"portable"' -DGWFLOW_KERNEL_ISA_TARGET='"aarch64"' \
  -c "$src/src/kernels/tile_kernels.cpp" -o "$work/tile_kernels.o"
aarch64-linux-gnu-g++ "${flags[@]}" "$src/tests/isa/portable_smoke.cpp" "$work/tile_kernels.o" -o "$work/smoke"
file "$work/smoke" | grep -q 'ARM aarch64' || { echo "FAIL: not an aarch64 executable"; exit 1; }
qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/smoke"
