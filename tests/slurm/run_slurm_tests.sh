#!/usr/bin/env bash
# SLURM tests of jobs/*.sbatch and jobs/pipeline against a real single-node SLURM (Debian's
# slurm-wlm, started by tools/local-slurm with its own state directory and ports, stopped at the
# end). The scenarios run as concurrent jobs (the node claims 12 CPUs) while the direct reference
# runs (tools/mpirun -np 2) go on beside them:
#   (a) jobs/pipeline: train then sample (afterok) completes; weights.zip equals a direct run's
#       and the samples file's datasets equal a direct `mpirun -np 2 gwflow sample`'s
#   (b) a training job stopped by `scancel --signal=USR1` exits 75, requeues itself, continues from
#       its checkpoint and completes; weights.zip and the final checkpoint equal an uninterrupted run's
#   (c) a sample job stopped mid-way by `scancel --signal=USR1` requeues itself and resumes; and a
#       sample job whose ranks are SIGKILLed mid-way (a node failure, say) fails, is requeued by
#       `scontrol requeue` and resumes: both files' datasets equal an uninterrupted run's
#   (d) a pipeline whose training fails for a real error (bad config) is not requeued (FAILED,
#       exit 1, Restarts=0) and its dependent sample job is cancelled
#   (e) GWFLOW_MAX_REQUEUES=0: a stopped training ends FAILED with exit 75 and no requeue; the same
#       job submitted again continues from the checkpoint and equals the uninterrupted run
# Exit 77 (skipped) when SLURM cannot be installed here (no apt-get, not root, no repository).
# Usage: run_slurm_tests.sh GWFLOW
set -u
GWFLOW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
LS=$root/tools/local-slurm
export OMP_NUM_THREADS=1
t0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

if ! install_log=$("$LS" install 2>&1); then
  echo "SKIP: SLURM is not available and cannot be installed here: $install_log"
  exit 77
fi
[ -x "$GWFLOW" ] || { echo "FAIL: no gwflow executable '$1'"; exit 1; }
# One test SLURM at a time on this machine, also across ctest runs (the pip-torch configuration's
# tests run beside the default build's; tests/install takes the same lock).
exec 9>/tmp/gwflow-test-slurm.lock && flock 9

work=$(mktemp -d /tmp/gwflow_slurm.XXXXXX) && cd "$work" || { echo "FAIL: no work directory"; exit 1; }
# Our own SLURM: state in the work directory, two free ports (never a user's local SLURM).
export GWFLOW_SLURM_DIR=$work/slurm GWFLOW_SLURM_PORT=auto GWFLOW_SLURM_CPUS=12 GWFLOW_SLURM_AUTH=none
export SLURM_CONF=$work/slurm/slurm.conf
unset GWFLOW_MAX_REQUEUES GWFLOW_COMMAND GWFLOW_SRUN_ARGS GWFLOW_SRUN_MPI SBATCH_ACCOUNT SBATCH_PARTITION
bg_pids=()
cleanup() {
  local p
  for p in "${bg_pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  "$LS" stop >/dev/null 2>&1
  cd /
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! "$LS" start 9>&-; then
  echo "FAIL: tools/local-slurm start"
  tail -20 "$work"/slurm/*.log
  exit 1
fi
echo "local SLURM up in $(elapsed "$t0") s (port $(sed -n 's/^SlurmctldPort=//p' "$SLURM_CONF"))"

mpi2() { "$root/tools/mpirun" -np 2 "$@"; }
source "$root/tests/cli/compare.sh"  # same, same_state
# field NAME JOB: a field of `scontrol show job -o JOB`.
field() { scontrol show job -o "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
# wait_for TIMEOUT COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
  local n=$(($1 * 10)) i
  shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
# wait_refs NAME: until the direct reference run NAME has finished (done/NAME or failed/NAME).
wait_refs() { wait_for 400 test -e "refs/$1"; [ -e "refs/$1" ] && [ "$(cat "refs/$1")" = 0 ]; }
# progress_of OUT: wait until OUT.partial records rows done (its /progress[0] > 0); fails when OUT
# appears first (finished) or after 120 s. Reads the file while gwflow writes it (no HDF5 lock).
progress_of() {
  HDF5_USE_FILE_LOCKING=FALSE "$PY" - "$1" <<'PY'
import os, sys, time
import h5py
out = sys.argv[1]
end = time.time() + 120
while time.time() < end:
    if os.path.exists(out):
        sys.exit(1)
    try:
        with h5py.File(out + ".partial", "r") as f:
            done = int(f["progress"][0])
        if done > 0:
            print(done)
            sys.exit(0)
    except (OSError, KeyError):
        pass
    time.sleep(0.05)
sys.exit(1)
PY
}
submit() { sbatch --parsable "$@" | cut -d';' -f1; }
jobwait() { "$LS" wait --timeout 300 "$@"; }
out_of() { cat "$1-$2.out" "$1-$2.err" 2>/dev/null; }

"$GWFLOW" make-data seed-tutorial --n 6000 --seed 5 --out data.h5 >/dev/null || { echo "FAIL: make-data"; exit 1; }
cat > pipe.toml <<'TOML'
[data]
train = "data.h5:/x"
[model]
n_layers = 2
hidden_features = [6, 4]
[training]
iterations = 200
batch_size = 800
learning_rate = 3e-3
validation_step = 50
checkpoint_every = 100
[output]
dir = "pipe_model"
[sample]
weights = "pipe_model/weights.zip"
n = 60000
seed = 7
out = "pipe_samples.h5"
block_size = 4096
TOML
cat > long.toml <<'TOML'
[data]
train = "data.h5:/x"
[model]
n_layers = 2
hidden_features = [6, 4]
[training]
iterations = 1000
batch_size = 400
learning_rate = 3e-3
validation_step = 50
checkpoint_every = 100
[output]
dir = "long_model"
TOML
cat > big.toml <<'TOML'
[data]
train = "data.h5:/x"
[model]
n_layers = 3
hidden_features = 32
[training]
iterations = 30
batch_size = 800
validation_step = 10
[output]
dir = "big_model"
[sample]
weights = "big_model/weights.zip"
n = 1000000
seed = 3
out = "big.h5"
block_size = 8192
TOML
cp pipe.toml bad.toml
echo 'nonsense_key = 1' >> bad.toml   # in [sample]: an unknown key, an error naming it
mpi2 "$GWFLOW" train big.toml >big_model.txt 2>&1 || { echo "FAIL: training the sampling model"; cat big_model.txt; exit 1; }
# Sampling should take about 3 s, whatever this machine's speed, so that the jobs of (c) can be
# stopped mid-way: n from the measured rate of 2 ranks.
mpi2 "$GWFLOW" sample big.toml --set sample.n=200000 --set 'sample.out="rate.h5"' >rate.txt 2>&1 \
  || { echo "FAIL: sampling the rate test"; cat rate.txt; exit 1; }
n=$(sed -n 's/.*(\([0-9.e+]*\) samples\/s.*/\1/p' rate.txt | awk '{ n = int($1 * 3); print n < 300000 ? 300000 : (n > 8000000 ? 8000000 : n) }')
sed -i "s/^n = 1000000$/n = ${n:-1000000}/" big.toml
echo "(c) samples ${n:-1000000} rows per job ($(grep -o '[0-9.e+]* samples/s' rate.txt) measured)"

# The direct reference runs, one after another in the background.
mkdir -p refs
(
  mpi2 "$GWFLOW" train pipe.toml --set 'output.dir="ref_pipe"' >refs/a.log 2>&1 \
    && mpi2 "$GWFLOW" sample pipe.toml --set 'sample.weights="ref_pipe/weights.zip"' \
         --set 'sample.out="ref_pipe_samples.h5"' >>refs/a.log 2>&1
  echo $? > refs/a
  mpi2 "$GWFLOW" train long.toml --set 'output.dir="ref_long"' >refs/b.log 2>&1
  echo $? > refs/b
  mpi2 "$GWFLOW" sample big.toml --set 'sample.out="ref_big.h5"' >refs/c.log 2>&1
  echo $? > refs/c
) &
bg_pids+=($!)

export GWFLOW
mkdir -p results

# (a) the pipeline.
scenario_a() {
  local t ids tr sa
  t=$(date +%s.%N)
  ids=$("$root/jobs/pipeline" pipe.toml pipe.toml) || { echo "FAIL (a) jobs/pipeline: $ids"; return; }
  tr=$(awk '$1 == "train" { print $2 }' <<< "$ids")
  sa=$(awk '$1 == "sample" { print $2 }' <<< "$ids")
  local dep w
  dep=$(field Dependency "$sa")
  w=$(jobwait "$tr" "$sa")
  if [ $? -eq 0 ] && [[ $dep == afterok:$tr* ]] && wait_refs a \
    && cmp -s pipe_model/weights.zip ref_pipe/weights.zip && same pipe_samples.h5 ref_pipe_samples.h5 /samples /log_prob; then
    echo "PASS (a) pipeline (jobs $tr, $sa with Dependency=$dep): weights.zip and samples identical to direct mpirun runs ($(elapsed "$t") s)"
  else
    echo "FAIL (a) pipeline ($(elapsed "$t") s): ids '$ids', sample Dependency='$dep'; $w"
    out_of gwflow-train "$tr"; out_of gwflow-sample "$sa"; cat refs/a.log
  fi
}

# (b) training stopped by scancel --signal=USR1, self-requeued, continued.
scenario_b() {
  local t id
  t=$(date +%s.%N)
  id=$(submit "$root/jobs/train.sbatch" long.toml)
  if ! wait_for 120 test -f long_model/checkpoint-100.h5; then
    echo "FAIL (b) no checkpoint-100 within 120 s"; out_of gwflow-train "$id"; return
  fi
  scancel --signal=USR1 "$id"
  local w
  w=$(jobwait "$id")
  local log
  log=$(out_of gwflow-train "$id")
  if [[ $w == *"JobState=COMPLETED ExitCode=0:0 Restarts=1"* ]] \
    && grep -q 'stopped by a signal after iteration' <<< "$log" \
    && grep -q 'exit 75): requeueing' <<< "$log" \
    && grep -q 'continuing from long_model/checkpoint-' <<< "$log" \
    && wait_refs b && same_state long_model ref_long; then
    echo "PASS (b) train job $id: USR1 -> $(sed -n 's/.*\(stopped by a signal after iteration [0-9]*\).*/\1/p' <<< "$log" | head -1), exit 75, requeued, continued; weights.zip + checkpoint == uninterrupted ($(elapsed "$t") s)"
  else
    echo "FAIL (b) train job $id ($(elapsed "$t") s): $w"; echo "$log"; cat refs/b.log
  fi
}

# (c1) sampling stopped by scancel --signal=USR1, self-requeued, resumed.
scenario_c1() {
  local t id
  t=$(date +%s.%N)
  id=$(submit "$root/jobs/sample.sbatch" big.toml --set 'sample.out="c1.h5"')
  if ! progress_of c1.h5 >/dev/null; then
    echo "FAIL (c) c1.h5.partial recorded no progress (or finished) before it could be stopped"
    out_of gwflow-sample "$id"; return
  fi
  scancel --signal=USR1 "$id"
  local w log
  w=$(jobwait "$id")
  log=$(out_of gwflow-sample "$id")
  if [[ $w == *"JobState=COMPLETED ExitCode=0:0 Restarts=1"* ]] \
    && grep -q 'exit 75): requeueing' <<< "$log" && grep -q 'resuming c1.h5.partial at [1-9]' <<< "$log" \
    && wait_refs c && same c1.h5 ref_big.h5 /samples /log_prob; then
    echo "PASS (c) sample job $id: USR1 -> exit 75, requeued, $(grep -o 'resuming c1.h5.partial at [0-9]* of [0-9]* rows' <<< "$log"); datasets == uninterrupted ($(elapsed "$t") s)"
  else
    echo "FAIL (c) sample job $id, USR1 ($(elapsed "$t") s): $w"; echo "$log"; cat refs/c.log
  fi
}

# (c2) sampling ranks SIGKILLed mid-way: the job fails (no self-requeue on 137); an operator's
#      scontrol requeue (as after a node failure) resumes it.
scenario_c2() {
  local t id
  t=$(date +%s.%N)
  id=$(submit "$root/jobs/sample.sbatch" big.toml --set 'sample.out="c2.h5"')
  if ! progress_of c2.h5 >/dev/null; then
    echo "FAIL (c) c2.h5.partial recorded no progress (or finished) before it could be killed"
    out_of gwflow-sample "$id"; return
  fi
  local pids p
  pids=$(scontrol listpids "$id" 2>/dev/null | awk '$3 == "0" { print $1 }')
  for p in $pids; do kill -KILL "$p" 2>/dev/null; done
  local w1 w log
  w1=$(jobwait "$id")
  scontrol requeue "$id"
  w=$(jobwait "$id")
  log=$(out_of gwflow-sample "$id")
  if [ -n "$pids" ] && [[ $w1 == *"JobState=FAILED"* ]] && [[ $w1 == *"Restarts=0"* ]] \
    && [[ $w == *"JobState=COMPLETED ExitCode=0:0 Restarts=1"* ]] \
    && grep -q 'not requeueing' <<< "$log" && grep -q 'resuming c2.h5.partial at [1-9]' <<< "$log" \
    && wait_refs c && same c2.h5 ref_big.h5 /samples /log_prob; then
    echo "PASS (c) sample job $id: ranks SIGKILLed -> FAILED ($(sed 's/.*ExitCode=\([^ ]*\).*/exit \1/' <<< "$w1"), not requeued), scontrol requeue: $(grep -o 'resuming c2.h5.partial at [0-9]* of [0-9]* rows' <<< "$log"); datasets == uninterrupted ($(elapsed "$t") s)"
  else
    echo "FAIL (c) sample job $id, SIGKILL ($(elapsed "$t") s): killed '$pids'; $w1; $w"; echo "$log"; cat refs/c.log
  fi
}

# (d) a real error: not requeued; the dependent job is cancelled.
scenario_d() {
  local t ids tr sa
  t=$(date +%s.%N)
  ids=$("$root/jobs/pipeline" bad.toml pipe.toml) || { echo "FAIL (d) jobs/pipeline: $ids"; return; }
  tr=$(awk '$1 == "train" { print $2 }' <<< "$ids")
  sa=$(awk '$1 == "sample" { print $2 }' <<< "$ids")
  local w log
  w=$(jobwait "$tr" "$sa")
  log=$(out_of gwflow-train "$tr")
  if [[ $w == *"$tr JobState=FAILED ExitCode=1:0 Restarts=0"* ]] && [[ $w == *"$sa JobState=CANCELLED"* ]] \
    && grep -q '^gwflow: error: .*nonsense_key' <<< "$log" && grep -q 'failed (exit 1): not requeueing' <<< "$log" \
    && [ "$(grep -c '^gwflow-job: .* run ' <<< "$log")" -eq 1 ]; then
    echo "PASS (d) bad config: train job $tr FAILED (exit 1, Restarts=0, not requeued), dependent job $sa CANCELLED ($(elapsed "$t") s)"
  else
    echo "FAIL (d) bad config ($(elapsed "$t") s): $w"; echo "$log"
  fi
}

# (e) GWFLOW_MAX_REQUEUES=0, then the same job submitted again. The first submission leaves GWFLOW
#     unset when it is the repository's build/gwflow: the job script must find it by itself.
scenario_e() {
  local t id id2 unset_env=()
  t=$(date +%s.%N)
  [ "$GWFLOW" -ef "$root/build/gwflow" ] && unset_env=(-u GWFLOW)
  id=$(env "${unset_env[@]}" GWFLOW_MAX_REQUEUES=0 sbatch --parsable "$root/jobs/train.sbatch" long.toml \
       --set 'output.dir="e_model"' | cut -d';' -f1)
  if ! wait_for 120 test -f e_model/checkpoint-100.h5; then
    echo "FAIL (e) no checkpoint-100 within 120 s"; out_of gwflow-train "$id"; return
  fi
  scancel --signal=USR1 "$id"
  local w1 w log found=yes
  w1=$(jobwait "$id")
  log=$(out_of gwflow-train "$id")
  if [ ${#unset_env[@]} -gt 0 ]; then
    grep -q "srun --mpi=pmix $root/build/gwflow train" <<< "$log" || found=no
  fi
  id2=$(submit "$root/jobs/train.sbatch" long.toml --set 'output.dir="e_model"')
  w=$(jobwait "$id2")
  log+=$'\n'$(out_of gwflow-train "$id2")
  if [[ $w1 == *"JobState=FAILED ExitCode=75:0 Restarts=0"* ]] && grep -q 'GWFLOW_MAX_REQUEUES=0' <<< "$log" \
    && [ $found = yes ] && [[ $w == *"JobState=COMPLETED ExitCode=0:0 Restarts=0"* ]] \
    && grep -q 'continuing from e_model/checkpoint-' <<< "$log" && wait_refs b && same_state e_model ref_long; then
    echo "PASS (e) GWFLOW_MAX_REQUEUES=0: job $id FAILED with exit 75, not requeued$([ ${#unset_env[@]} -gt 0 ] && echo ', gwflow found without GWFLOW'); resubmitted as $id2: continued, == uninterrupted ($(elapsed "$t") s)"
  else
    echo "FAIL (e) max requeues ($(elapsed "$t") s): $w1; $w; gwflow found: $found"; echo "$log"
  fi
}

for s in a b c1 c2 d e; do
  "scenario_$s" > "results/$s" 2>&1 &
  bg_pids+=($!)
done
wait "${bg_pids[@]}"
bg_pids=()

failures=0
for s in a b c1 c2 d e; do
  cat "results/$s"
  grep -q '^PASS' "results/$s" || failures=$((failures + 1))
done
echo "SLURM tests: $failures failure(s), $(elapsed "$t0") s in all"
[ "$failures" -eq 0 ]
