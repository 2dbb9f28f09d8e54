#!/usr/bin/env bash
# ctest isa_emulated: the default (dispatching) build on older and other x86-64 CPUs, emulated by
# Debian's qemu-user. Under `-cpu Nehalem` (x86-64-v2) and `-cpu Haswell` (x86-64-v3):
#   - gwflow starts (no instruction of a higher level outside the kernels);
#   - the kernel and fixture parity tests pass, and those of the CPU's own level ran (not skipped);
#   - a logprob run names that level in its header, and its log densities and noise are
#     bit-identical to a native run forced to the same variant (same code, same instructions);
#   - forcing a level the CPU lacks is a one-line error with a non-zero exit.
# QEMU's TCG has no AVX-512, so v4 cannot be checked here (only compiled).
# Usage: run_isa_tests.sh BUILD_DIR. Exit 77 (skipped) without qemu-x86_64 or on a non-x86 host.
# GWFLOW_ISA_CPUS: the emulated CPU:level pairs (default "Nehalem:v2 Haswell:v3"); the pip-torch
# configuration checks Nehalem only (its v3 kernels run natively on an x86-64-v3 host).
set -uo pipefail
build=$(cd "$1" && pwd)
gw="$build/gwflow"
tests="$build/tests/gwflow_unit_tests"
data=$(cd "$(dirname "$0")/../data" && pwd)
[ "$(uname -m)" = x86_64 ] || { echo "not an x86-64 host: skipped"; exit 77; }
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not found (Debian: qemu-user): skipped"; exit 77; }
PY=/usr/bin/python3  # Debian's, with python3-h5py (tools/setup)
$PY -c 'import h5py' 2>/dev/null || { echo "$PY with h5py not found: skipped"; exit 77; }
work=$(mktemp -d /tmp/gwflow_isa.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
export OMP_NUM_THREADS=1
failures=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
emulate() {  # CPU command...: runs under qemu, without its warnings about features TCG lacks
  local cpu=$1 rc
  shift
  qemu-x86_64 -cpu "$cpu" "$@" 2>"$work/qemu.err"
  rc=$?
  grep -v 'qemu-x86_64: warning' "$work/qemu.err" >&2
  return $rc
}

# Points inside the fixture model's box: its own samples (native, any variant).
cat > cfg.toml <<TOML
[sample]
weights = "$data/std_D2_L3_H5.weights.zip"
n = 5000
seed = 3
out = "samples.h5"
backend = "kokkos"

[logprob]
weights = "$data/std_D2_L3_H5.weights.zip"
input = "samples.h5:/samples"
out = "native.h5"
noise = true
backend = "kokkos"
TOML
"$gw" sample cfg.toml >sample.log 2>&1 || { cat sample.log; echo "FAIL: native sample"; exit 1; }

cpus=${GWFLOW_ISA_CPUS:-Nehalem:v2 Haswell:v3}
for pair in $cpus; do
  [[ $pair =~ ^[A-Za-z0-9-]+:v[234]$ ]] || { fail "GWFLOW_ISA_CPUS: '$pair' is not CPU:v2|v3|v4"; continue; }
  cpu=${pair%%:*}
  isa=${pair##*:}
  emulate "$cpu" "$gw" --version >version.log 2>&1 && pass "$cpu: gwflow --version" ||
    { fail "$cpu: gwflow --version"; cat version.log; }

  emulate "$cpu" "$tests" --gtest_brief=0 --gtest_filter='Variants/Kernels.*:Models/FixtureParity.*' >unit.log 2>&1 &&
    pass "$cpu: kernel and fixture parity tests" || { fail "$cpu: kernel and fixture parity tests"; grep -E 'Failure|FAILED|actual' unit.log | head -20; }
  grep -q "^\[       OK \] Variants/Kernels.RandomModelsMatchLibTorch/$isa " unit.log &&
    pass "$cpu: the $isa kernel tests ran" || fail "$cpu: the $isa kernel tests did not run"

  rm -f native.h5 emulated.h5
  emulate "$cpu" "$gw" logprob cfg.toml --set 'logprob.out="emulated.h5"' >emulated.log 2>&1 ||
    { fail "$cpu: emulated logprob"; cat emulated.log; }
  grep -q "^kernels: $isa " emulated.log && pass "$cpu: the header names $isa" ||
    { fail "$cpu: the header does not name $isa"; grep '^kernels' emulated.log; }
  # The same variant run natively, where this host can run it (a host below v3 cannot).
  if ! GWFLOW_KERNEL_ISA=$isa "$gw" logprob cfg.toml >native.log 2>&1; then
    if grep -q 'this CPU cannot run it' native.log; then
      echo "SKIP: $cpu: this host cannot run $isa natively, so there is nothing to compare with"
      continue
    fi
    fail "$cpu: native logprob ($isa)"
    cat native.log
  fi
  $PY - <<'PY' && pass "$cpu: logprob bit-identical to native $isa" || fail "$cpu: logprob differs from native $isa"
import h5py, numpy as np
a, b = h5py.File("native.h5", "r"), h5py.File("emulated.h5", "r")
for k in ("log_prob", "z"):
    assert np.array_equal(a[k][:], b[k][:], equal_nan=True), k
# (The fixture model saturates its tanh box: a few % of its float32 samples lie on the edge.)
assert np.isfinite(a["log_prob"][:]).sum() > 2500
PY
done

# A level the CPU lacks: one line, exit 1, no output.
rm -f emulated.h5
GWFLOW_KERNEL_ISA=v3 emulate Nehalem "$gw" logprob cfg.toml --set 'logprob.out="emulated.h5"' >forced.log 2>forced.err
rc=$?
if [ "$rc" -ne 0 ] && [ "$(wc -l <forced.err)" -eq 1 ] && grep -q 'GWFLOW_KERNEL_ISA = v3: this CPU cannot run it' forced.err &&
  [ ! -e emulated.h5 ] && [ ! -e emulated.h5.partial ]; then
  pass "Nehalem: GWFLOW_KERNEL_ISA=v3 refused in one line"
else
  fail "Nehalem: GWFLOW_KERNEL_ISA=v3 (exit $rc)"
  cat forced.err
fi

echo "isa_emulated: $failures failure(s)"
[ "$failures" -eq 0 ]
