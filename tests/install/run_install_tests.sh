#!/usr/bin/env bash
# gwflow as installed software (cmake/GwflowInstall.cmake; README "Installing on a cluster"):
#   (a) `cmake --install BUILD --prefix P` lays out P/bin/gwflow, P/bin/gwflow-mpirun, the job
#       scripts, example inputs and plotting tools under P/share/gwflow/ and the docs under
#       P/share/doc/gwflow/, with a RUNPATH of existing folders only; the prefix is then moved
#       elsewhere (nothing may point back into it)
#   (b) the seed tutorial runs from the moved prefix alone: only P/bin and the system folders on
#       PATH, a work folder outside the source tree, and (as root, in a private mount namespace)
#       the source tree and build folder hidden under empty tmpfs mounts, so that nothing can come
#       from them. With SLURM (tools/local-slurm, started inside that namespace) the prefix's
#       jobs/pipeline trains and samples, each job finding P/bin/gwflow on its own; without it,
#       gwflow-mpirun -np 2 runs train then sample. Then P/share/gwflow/jobs/sample.sbatch logprob
#       with P/bin off PATH: the script finds P/bin/gwflow from where it is installed. Then
#       P/share/gwflow/tools/plot_history.py.
#   (c) the weights and samples equal a direct run of the build folder's gwflow on the same data
#       (the same binary, so bit for bit).
# Usage: run_install_tests.sh BUILD_DIR   (GWFLOW_INSTALL_TEST_SLURM=no: the path without SLURM)
set -uo pipefail
build=$(cd "${1:?usage: run_install_tests.sh BUILD_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d /tmp/gwflow_install.XXXXXX) || fail "no work folder"
cleanup() {
  [ -n "${GWFLOW_SLURM_DIR:-}" ] && [ -x "$work/local-slurm" ] && "$work/local-slurm" stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# (a) install and relocate.
cmake --install "$build" --prefix "$work/staging/gwflow" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install"; }
mv "$work/staging/gwflow" "$work/prefix" || fail "moving the prefix"
P=$work/prefix
for f in bin/gwflow bin/gwflow-mpirun share/gwflow/jobs/pipeline share/gwflow/jobs/train.sbatch \
  share/gwflow/jobs/sample.sbatch share/gwflow/inputs/seed_tutorial.toml share/gwflow/inputs/regression_3d.toml \
  share/gwflow/tools/plot_history.py share/gwflow/tools/plot_corner.py share/doc/gwflow/README.md \
  share/doc/gwflow/LICENSE share/doc/gwflow/CHANGELOG.md share/doc/gwflow/CITATION.cff; do
  [ -e "$P/$f" ] || fail "the prefix has no $f"
done
for f in bin/gwflow bin/gwflow-mpirun share/gwflow/jobs/pipeline share/gwflow/jobs/train.sbatch share/gwflow/tools/plot_history.py; do
  [ -x "$P/$f" ] || fail "$f is not executable"
done
# Every run path of the installed binary is a folder that exists (no LibTorch placeholders).
runpath=$(readelf -d "$P/bin/gwflow" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]/\1/p')
IFS=: read -r -a all <<<"$runpath"
dirs=()
for d in "${all[@]}"; do
  [ -n "$d" ] || continue
  [ -d "$d" ] || fail "the installed gwflow's RUNPATH names a missing folder '$d' ($runpath)"
  dirs+=("$d")
done
echo "PASS (a) installed and moved: $(cd "$P" && find . -type f | wc -l) files; $("$P/bin/gwflow" --version 2>&1 | head -1); ${#dirs[@]} run paths, all present"

# The direct reference run, from the build folder (before anything is hidden).
ref=$work/ref && mkdir -p "$ref" && cd "$ref" || fail "no reference folder"
"$build/gwflow" make-data seed-tutorial --n 20000 --seed 3 --out data.h5 >/dev/null || fail "make-data"
cat >seed.toml <<EOF
[data]
train = "data.h5:/x"
validation_fraction = 0.1
[model]
n_layers = 2
hidden_features = 4
[training]
iterations = 60
batch_size = 2000
validation_step = 20
seed = 0
[output]
dir = "run"
[sample]
weights = "run/weights.zip"
n = 30000
seed = 1
out = "samples.h5"
[logprob]
weights = "run/weights.zip"
input = "samples.h5:/samples"
out = "logprob.h5"
EOF
{ "$root/tools/mpirun" -np 2 "$build/gwflow" train seed.toml && "$root/tools/mpirun" -np 2 "$build/gwflow" sample seed.toml; } \
  >ref.log 2>&1 || { cat ref.log; fail "the reference run"; }

# (b) the same from the prefix alone.
job=$work/job && mkdir -p "$job" && cp "$ref/data.h5" "$ref/seed.toml" "$job/" || fail "no job folder"
slurm=no
if [ "${GWFLOW_INSTALL_TEST_SLURM:-yes}" = yes ] && "$root/tools/local-slurm" install >/dev/null 2>&1; then
  slurm=yes
  exec 9>/tmp/gwflow-test-slurm.lock && flock 9  # one test SLURM at a time (tests/slurm takes it too)
  cp "$root/tools/local-slurm" "$work/local-slurm"
  export GWFLOW_SLURM_DIR=$work/slurm GWFLOW_SLURM_AUTH=none GWFLOW_SLURM_CPUS=4 GWFLOW_SLURM_PORT=auto
fi
cat >"$work/from_prefix.sh" <<'EOF'
# Runs with only the prefix's bin on PATH; $1 = prefix, $2 = job folder, $3 = yes|no (SLURM).
set -uo pipefail
P=$1
cd "$2" || exit 1
export PATH="$P/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
unset GWFLOW GWFLOW_COMMAND
command -v gwflow | grep -qx "$P/bin/gwflow" || { echo "gwflow on PATH is $(command -v gwflow)"; exit 1; }
if [ "$3" = yes ]; then
  ls=$(dirname "$P")/local-slurm
  "$ls" start >slurm-start.log 2>&1 || { cat slurm-start.log; exit 1; }
  eval "$("$ls" env)"
  ids=$("$P/share/gwflow/jobs/pipeline" seed.toml seed.toml --ntasks-per-node=2) || exit 1
  train=$(awk '$1 == "train" { print $2 }' <<<"$ids")
  sample=$(awk '$1 == "sample" { print $2 }' <<<"$ids")
  "$ls" wait --timeout 600 "$train" "$sample" || { cat ./*.out ./*.err 2>/dev/null; exit 1; }
  grep -h "gwflow-job:.* $P/bin/gwflow " ./*.out >used.txt || { echo "the jobs did not run $P/bin/gwflow:"; cat ./*.out; exit 1; }
  [ "$(wc -l <used.txt)" -ge 2 ] || { echo "only $(wc -l <used.txt) job ran $P/bin/gwflow"; cat ./*.out; exit 1; }
  # Without the prefix on PATH, a job script finds P/bin/gwflow from where it is installed.
  id=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin sbatch --parsable -J logprob-nopath "$P/share/gwflow/jobs/sample.sbatch" logprob seed.toml) || exit 1
  "$ls" wait --timeout 300 "${id%%;*}" || { cat logprob-nopath-*.out logprob-nopath-*.err; exit 1; }
  grep -q "gwflow-job:.* $P/bin/gwflow logprob" logprob-nopath-*.out || { echo "the job without PATH did not run $P/bin/gwflow:"; cat logprob-nopath-*.out; exit 1; }
else
  { gwflow-mpirun -np 2 gwflow train seed.toml && gwflow-mpirun -np 2 gwflow sample seed.toml; } >run.log 2>&1 ||
    { cat run.log; exit 1; }
  PATH=/usr/bin:/bin "$P/share/gwflow/jobs/sample.sbatch" logprob seed.toml >logprob.log 2>&1 || { cat logprob.log; exit 1; }
  grep -q "gwflow-job:.* $P/bin/gwflow logprob" logprob.log || { echo "sample.sbatch without PATH did not run $P/bin/gwflow:"; cat logprob.log; exit 1; }
fi
[ -s logprob.h5 ] || { echo "no logprob.h5"; exit 1; }
"$P/share/gwflow/tools/plot_history.py" run/history.h5 --out . >plot.log 2>&1 || { cat plot.log; exit 1; }
[ -s loss.png ] || { echo "no loss.png"; exit 1; }
EOF
hidden="no (not root, or no mount namespace here)"
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  hidden="yes"
  # The job folder lives under $work (/tmp), outside the hidden trees, unless the checkout is there.
  case $work/ in "$root"/* | "$build"/*) fail "the work folder $work is inside the source tree" ;; esac
  unshare -m bash -c '
    mount --make-rprivate / || exit 97
    for d in "$1" "$2"; do
      [ -n "$(ls -A "$d" 2>/dev/null)" ] || continue  # already hidden (the build folder inside the source tree)
      mount -t tmpfs none "$d" || exit 97
    done
    shift 2
    exec bash "$@"
  ' hide "$root" "$build" "$work/from_prefix.sh" "$P" "$job" "$slurm" 9>&-
  rc=$?
else
  bash "$work/from_prefix.sh" "$P" "$job" "$slurm" 9>&-
  rc=$?
fi
[ $rc = 97 ] && fail "could not hide the source tree"
[ $rc = 0 ] || fail "the run from the prefix (SLURM: $slurm, source hidden: $hidden)"
how=$([ $slurm = yes ] && echo "jobs/pipeline under SLURM, each job found $P/bin/gwflow itself" || echo "gwflow-mpirun -np 2")
echo "PASS (b) train -> sample from the moved prefix only ($how; source tree hidden: $hidden); sample.sbatch logprob found P/bin/gwflow with P/bin off PATH; plot_history.py"

# (c) the same numbers as the build folder's binary.
cmp -s "$ref/run/weights.zip" "$job/run/weights.zip" || fail "weights.zip differs from the direct run's"
"$PY" - "$ref/samples.h5" "$job/samples.h5" <<'PY' || fail "samples.h5 differs from the direct run's"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for k in ("samples", "log_prob"):
    if not np.array_equal(a[k][()], b[k][()]):
        sys.exit(f"/{k} differs")
print(f"  {a['samples'].shape[0]} samples, identical")
PY
echo "PASS (c) weights.zip and samples.h5 bit-identical to the build folder's run"
