#!/usr/bin/env bash
# ctest: rehearses tools/gpu-check on this machine without a GPU (tools/gpu-check-rehearse), so that
# the one run on a GPU node cannot fail on packaging, relocation or the script itself.
# Exit 77 (skipped) where the rehearsal cannot run: not root, no mount namespace with overlayfs, no
# CUDA toolkit with NCCL in /usr/local/cuda, or no access to Debian's registry for the packages.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: rehearse_gpu_check.sh BUILD_DIR}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
[ -f /usr/local/cuda/include/nccl.h ] || skip "no CUDA toolkit with NCCL in /usr/local/cuda"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
mkdir -p "$probe"/{l,u,w,m}
unshare -m sh -c "mount -t overlay overlay -o lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w $probe/m" \
  2>/dev/null || skip "no mount namespace with overlayfs here"
if [ ! -d "$root/.gpu-debs/core" ]; then
  "$root/tools/gpu-check" --prepare || skip "cannot download the packages from Debian's registry"
fi
export GWFLOW_GPU_CHECK_BUILD="$build/gpu-check-rehearsal" GWFLOW_GPU_CHECK_JOBS=2
"$root/tools/gpu-check-rehearse"
