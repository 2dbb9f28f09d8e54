#!/usr/bin/env bash
# CMake's dependency checks (cmake/GwflowDependencies.cmake) stop with one clear message:
#   (a) GWFLOW_TORCH_PYTHON naming a python without torch
#   (b) a CUDA pip torch without a CUDA toolkit (nvcc hidden in a private mount namespace; as
#       root, where the pip environment of tools/python-env exists)
# Usage: run_cmake_checks.sh   (configures into temporary folders; nothing is built)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/gwflow_cmake_checks.XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
expect() {  # expect NAME PATTERN LOG (CMake wraps messages: compared with the whitespace squeezed)
  if tr -s ' \n' ' ' <"$3" | grep -qF "$2"; then
    echo "PASS $1: $(tr -s ' \n' ' ' <"$3" | grep -oE 'gwflow: .{0,160}' | head -1)"
  else
    echo "FAIL $1: no '$2' in the configure output:"; tail -20 "$3"; rc=1
  fi
}
cmake -S "$root" -B "$work/a" -G Ninja -DGWFLOW_TORCH_PYTHON=/bin/false >"$work/a.log" 2>&1 && { echo "FAIL (a): configured"; rc=1; }
expect "(a) a python without torch" "GWFLOW_TORCH_PYTHON = /bin/false cannot import torch" "$work/a.log"

py=${GWFLOW_PYTHON_ENVS:-$HOME/.cache/gwflow}/mbank-pypi/bin/python
if [ "$(id -u)" = 0 ] && [ -x "$py" ] && "$py" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null &&
  unshare -m true 2>/dev/null; then
  # Hide every nvcc: the toolkit folder and any nvcc on PATH.
  unshare -m bash -c '
    mount --make-rprivate /
    for d in /usr/local/cuda "${CUDA_HOME:-}"; do [ -n "$d" ] && [ -d "$d" ] && mount -t tmpfs none "$(readlink -f "$d")"; done
    for f in $(type -ap nvcc); do mount --bind /dev/null "$f"; done
    exec cmake -S "$1" -B "$2" -G Ninja -DGWFLOW_TORCH_PYTHON="$3"
  ' check "$root" "$work/b" "$py" >"$work/b.log" 2>&1 && { echo "FAIL (b): configured"; rc=1; }
  expect "(b) a CUDA torch without nvcc" "its CMake files need the CUDA toolkit's nvcc" "$work/b.log"
else
  echo "(b) skipped: needs root, a mount namespace and the pip environment with a CUDA torch"
fi
exit $rc
