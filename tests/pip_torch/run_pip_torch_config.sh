#!/usr/bin/env bash
# The second build configuration: gwflow built against the LibTorch 2.x of a pip-installed torch
# (tools/build-pip-torch: the current torch wheel from PyPI, CUDA-enabled, with the NCCL reducer
# against the wheel's NCCL), then that build's own test suite: every test except the ones that do
# not involve this build (labels fuzz: a separate clang build; configure: the CMake checks, which
# build nothing), with isa_emulated showing that the build, the wheel's libraries included, runs
# on an x86-64-v2 CPU; GPU-only cases skip without a GPU.
# Exit 77 (skipped, with the reason) where no pip torch can be had (PyPI unreachable).
# Usage: run_pip_torch_config.sh BUILD_DIR   (the configuration is built in BUILD_DIR/pip-torch)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run_pip_torch_config.sh BUILD_DIR}" && pwd)/pip-torch
if [ -z "${GWFLOW_TORCH_PYTHON:-}" ]; then
  err=$(mktemp)
  GWFLOW_TORCH_PYTHON=$("$root/tools/python-env" pypi 2>"$err") || { echo "SKIP: no pip torch: $(cat "$err")"; rm -f "$err"; exit 77; }
  rm -f "$err"
  export GWFLOW_TORCH_PYTHON
fi
"$GWFLOW_TORCH_PYTHON" - <<'PY' || { echo "FAIL: torch does not import in $GWFLOW_TORCH_PYTHON"; exit 1; }
import torch
nccl = ".".join(map(str, torch.cuda.nccl.version())) if torch.version.cuda else None
print(f"pip torch {torch.__version__} (CUDA {torch.version.cuda}, NCCL {nccl}) from {torch.__file__}")
PY
t0=$(date +%s)
"$root/tools/build-pip-torch" "$build" >"$build.build.log" 2>&1 || { tail -40 "$build.build.log"; echo "FAIL: the build against the pip torch"; exit 1; }
grep -h '^-- gwflow:' "$build/configure.log"
echo "built in $(($(date +%s) - t0)) s"
# One CUDA runtime and one NCCL in the process: the files gwflow loads are the ones libtorch_cuda
# loads on its own (cmake/GwflowDependencies.cmake links the wheel's).
torch_lib=$("$GWFLOW_TORCH_PYTHON" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
if [ -f "$torch_lib/libtorch_cuda.so" ]; then
  for so in libcudart.so libnccl.so; do
    ours=$(ldd "$build/gwflow" | awk -v s="$so" 'index($1, s) == 1 { print $3 }')
    theirs=$(ldd "$torch_lib/libtorch_cuda.so" | awk -v s="$so" 'index($1, s) == 1 { print $3 }')
    [ -z "$ours" ] && continue
    if [ -n "$theirs" ] && [ "$(readlink -f "$ours")" != "$(readlink -f "$theirs")" ]; then
      echo "FAIL: gwflow loads $ours but libtorch_cuda loads $theirs"
      exit 1
    fi
    echo "one $so: $ours"
  done
fi
cd "$build" || exit 1
# isa_emulated: the 2.x build, the wheel's libraries included, on the oldest level (Nehalem,
# x86-64-v2); its v3 kernels run natively here (the default build emulates both levels).
GWFLOW_ISA_CPUS=${GWFLOW_ISA_CPUS:-Nehalem:v2} \
  ctest --output-on-failure -j 2 -LE 'bench|fuzz|pip_torch|configure' >"$build.ctest.log" 2>&1
rc=$?
grep -E '^ *[0-9]+/[0-9]+ Test|tests passed|Total Test time|Not Run|\*\*\*' "$build.ctest.log" | grep -vE ' Passed +[0-9.]+ sec$' | tail -40
echo "pip-torch configuration: $(grep -E 'tests passed' "$build.ctest.log")"
if [ $rc -ne 0 ]; then
  echo "FAIL: the pip-torch build's tests (full log: $build.ctest.log)"
  sed -n '/The following tests FAILED/,$p' "$build.ctest.log"
  exit 1
fi
