#!/usr/bin/env bash
# Nothing already written is lost: exclusive outputs (a second run on a live output is refused,
# a crashed run's lock never blocks), "complete" means every row written, signals during slow
# steps always save (through tools/mpirun), full disks give one line and keep what was there,
# and the small CLI fixes. Cases, run by run_case.sh (ctest: cli.safety.CASE): the functions
# case_NAME below; setup makes the shared inputs (data.h5, cfg.toml, a model trained on 2 ranks
# in run/, and s/ref.h5: an uninterrupted sample of cfg.toml).
root=$(cd "$here/../.." && pwd)
MPIRUN="$root/tools/mpirun"
# Started in the background, as a terminal would start it in the foreground: a non-interactive
# shell starts background jobs with SIGINT ignored, and a shell cannot trap what it inherits ignored.
# (An exec chain, so that $! is the pid of tools/mpirun itself.)
FG_MPIRUN=("$PY" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$MPIRUN")

# expect_error NAME CODE PATTERN -- command...: exit code, one "gwflow: error:" line matching
# PATTERN, nothing else on stderr that looks like a crash.
expect_error() {
  local name=$1 code=$2 pattern=$3
  shift 4
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [ "$rc" -ne "$code" ]; then fail "$name: exit $rc, expected $code"; cat err.txt; return; fi
  if [ "$(grep -c '^gwflow: error:' err.txt)" -ne 1 ] || [ "$(grep -vc '^gwflow: warning:' err.txt)" -ne 1 ]; then
    fail "$name: not exactly one error line"; cat -A err.txt | head; return
  fi
  grep -q -- "$pattern" err.txt && pass "$name" || { fail "$name: error does not match '$pattern'"; cat err.txt; }
}

# wait_for FILE [SECONDS]: until FILE exists (an event, not a duration; the limit only guards a hang).
wait_for() {
  local i
  for ((i = 0; i < ${2:-120} * 10; i++)); do
    [ -s "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# mount_tmpfs DIR SIZE: a tmpfs of SIZE on DIR (made here); fails where that is not allowed (not
# root, or no mount permission in this container).
mount_tmpfs() {
  [ "$(id -u)" -eq 0 ] && mkdir -p "$1" && mount -t tmpfs -o size="$2" tmpfs "$1" 2>/dev/null
}

setup() {
  "$GWFLOW" make-data seed-tutorial --n 20000 --seed 4 --out data.h5 >/dev/null || fail make-data
  cat > cfg.toml <<'TOML'
[data]
train = "data.h5:/x"
[model]
n_layers = 2
hidden_features = 4
[training]
iterations = 40
batch_size = 2000
validation_step = 5
checkpoint_every = 5
[output]
dir = "run"
[sample]
weights = "run/weights.zip"
n = 40000
seed = 2
block_size = 2000
out = "s/samples.h5"
[logprob]
weights = "run/weights.zip"
input = "data.h5:/x"
block_size = 2000
out = "lp/logprob.h5"
TOML
  mpi2 "$GWFLOW" train cfg.toml >train.log 2>&1 || { fail "train"; cat train.log; }
  [ ! -e run/gwflow.lock ] && pass "a finished run leaves no lock file" || fail "run/gwflow.lock left behind"
  "$GWFLOW" sample cfg.toml --set 'sample.out="s/ref.h5"' >/dev/null 2>&1 || fail "the uninterrupted sample s/ref.h5"
}

# --- exclusive outputs ---------------------------------------------------------------------------
# A slow sample (2 s per block) holds s/samples.h5; a second run on it is refused, naming the
# holder; once the holder is SIGKILLed, its lock does not block the rerun, which resumes.
case_live_sample_output_is_exclusive() {
  GWFLOW_TEST_STEP_DELAY_MS=2000 "$GWFLOW" sample cfg.toml >a.log 2>&1 &
  local a=$!
  wait_for s/samples.h5.lock && wait_for s/samples.h5.partial || fail "the first sample did not start"
  expect_error second-sample-refused 1 "s/samples.h5 is in use by another gwflow run (host .*, pid $a)" -- \
    "$GWFLOW" sample cfg.toml --set sample.seed=7
  expect_error second-sample-overwrite-refused 1 "is in use by another gwflow run" -- \
    "$GWFLOW" sample cfg.toml --set sample.seed=7 --overwrite
  [ -e s/samples.h5.partial ] && [ ! -e s/samples.h5 ] && pass "the live partial file was left alone" ||
    fail "the refused run touched the live output"
  kill -KILL "$a"
  wait "$a" 2>/dev/null
  [ -e s/samples.h5.lock ] && pass "a killed run leaves its (unlocked) lock file" || fail "no lock file after kill"
  "$GWFLOW" sample cfg.toml >b.log 2>&1 && grep -q 'resuming' b.log && [ -e s/samples.h5 ] && [ ! -e s/samples.h5.lock ] &&
    pass "a crashed run's lock does not block the rerun, which resumes" || { fail "rerun after a crash"; cat b.log; }
  same s/samples.h5 s/ref.h5 samples log_prob && pass "the resumed file equals an uninterrupted one" ||
    fail "the resumed file differs from an uninterrupted one"
}

# The same for train's output.dir.
case_live_train_output_is_exclusive() {
  GWFLOW_TEST_STEP_DELAY_MS=1000 "$GWFLOW" train cfg.toml --set 'output.dir="run2"' >c.log 2>&1 &
  local c=$!
  wait_for run2/checkpoint-5.h5 || fail "the first train did not checkpoint"
  expect_error second-train-refused 1 "run2 is in use by another gwflow run (host .*, pid $c)" -- \
    "$GWFLOW" train cfg.toml --set 'output.dir="run2"' --overwrite
  kill -KILL "$c"
  wait "$c" 2>/dev/null
  "$GWFLOW" train cfg.toml --set 'output.dir="run2"' --restart >d.log 2>&1 && pass "train restarts after a killed holder" ||
    { fail "train restart after a killed holder"; cat d.log; }
}

# import-dataset and make-data take the same lock; a stale lock file does not block them.
case_stale_lock_file_taken_over() {
  printf '1 2 3\n4 5 6\n' > t.txt
  : > imp.h5.lock
  "$GWFLOW" import-dataset t.txt --dim 2 --out imp.h5 >/dev/null 2>&1 && [ ! -e imp.h5.lock ] &&
    pass "import-dataset takes over a stale lock file" || fail "import-dataset with a stale lock file"
}

# "Complete" needs every row: a final-named file of this config with rows missing (as a colliding
# run could leave before locks existed) is resumed, not taken for a finished one.
case_unfinished_final_file_resumed() {
  GWFLOW_TEST_KILL_AFTER_ROWS=20000 "$GWFLOW" sample cfg.toml >/dev/null 2>&1
  mv s/samples.h5.partial s/samples.h5
  "$GWFLOW" sample cfg.toml >e.log 2>&1 && grep -q 'was unfinished ([0-9]* of 40000 rows): resuming it' e.log &&
    same s/samples.h5 s/ref.h5 samples log_prob && pass "an unfinished final file is resumed, not called complete" ||
    { fail "an unfinished final file"; cat e.log; }
  "$GWFLOW" sample cfg.toml >f.log 2>&1 && grep -q 'already complete' f.log && pass "a complete file is a no-op" ||
    { fail "a complete file"; cat f.log; }
}

# --- signals during slow steps save, through tools/mpirun ----------------------------------------
# 3 s per step: the signal lands mid-step; the ranks finish it, save, and exit 75 (the time from
# the signal to the exit is printed); the SIGTERM-stopped run restarts.
case_train_signals_under_mpirun() {
  local sig m rc t0 t1 want ck
  for sig in TERM USR1 INT; do
    rm -rf "sig$sig"
    GWFLOW_TEST_STEP_DELAY_MS=3000 "${FG_MPIRUN[@]}" -np 2 "$GWFLOW" train cfg.toml --set "output.dir=\"sig$sig\"" \
      --set training.iterations=1000 >"sig$sig.log" 2>&1 &
    m=$!
    wait_for "sig$sig/gwflow.lock" || fail "train under tools/mpirun did not start"
    t0=$(date +%s%N)
    kill -"$sig" "$m"
    wait "$m"
    rc=$?
    t1=$(date +%s%N)
    want=75
    ck=$(ls "sig$sig"/checkpoint-*.h5 2>/dev/null | head -1)
    if [ "$rc" -eq "$want" ] && [ -n "$ck" ]; then
      pass "train SIG$sig under tools/mpirun: exit $rc after $(((t1 - t0) / 1000000)) ms, $(basename "$ck")"
    else
      fail "train SIG$sig under tools/mpirun: exit $rc (expected $want), checkpoint '${ck}'"
      cat "sig$sig.log"
    fi
  done
  "$MPIRUN" -np 2 "$GWFLOW" train cfg.toml --set 'output.dir="sigTERM"' --set training.iterations=1000 --restart \
    --set training.iterations=12 >r.log 2>&1 && pass "the SIGTERM-stopped run restarts" || { fail "restart after SIGTERM"; cat r.log; }
}

# The same for sample: exit 75 and the progress kept.
case_sample_signals_under_mpirun() {
  local sig m rc
  for sig in TERM USR1 INT; do
    GWFLOW_TEST_STEP_DELAY_MS=3000 "${FG_MPIRUN[@]}" -np 2 "$GWFLOW" sample cfg.toml --set "sample.out=\"sig/s$sig.h5\"" \
      >"ss$sig.log" 2>&1 &
    m=$!
    wait_for "sig/s$sig.h5.partial" || fail "sample under tools/mpirun did not start"
    kill -"$sig" "$m"
    wait "$m"
    rc=$?
    [ "$rc" -eq 75 ] && [ -e "sig/s$sig.h5.partial" ] && pass "sample SIG$sig under tools/mpirun: exit 75, progress kept" ||
      { fail "sample SIG$sig under tools/mpirun: exit $rc"; cat "ss$sig.log"; }
  done
}

# --- full disks: one line, exit 1, nothing half-written under a final name ------------------------
# logprob and sample on a 64 KiB tmpfs (root only; skipped elsewhere).
case_full_disk_logprob_and_sample() {
  mount_tmpfs full 64k || { skip "full-disk tests need root and a tmpfs mount"; return; }
  expect_error logprob-disk-full 1 "full/lp.h5.*No space left on device" -- \
    "$GWFLOW" logprob cfg.toml --set 'logprob.out="full/lp.h5"'
  [ ! -e full/lp.h5 ] && pass "no logprob file under the final name" || fail "a half-written full/lp.h5"
  rm -f full/*
  expect_error sample-disk-full 1 "full/s.h5.*No space left on device" -- \
    "$GWFLOW" sample cfg.toml --set 'sample.out="full/s.h5"'
  [ ! -e full/s.h5 ] && pass "no sample file under the final name" || fail "a half-written full/s.h5"
  umount full
}

# train on a 2 MiB tmpfs: the first checkpoints fit, then the disk is filled; the failing write is
# one line on every rank (exit 1, no abort), and the previous checkpoint stays readable for a
# restart (root only; skipped elsewhere).
case_full_disk_during_train_checkpoint() {
  mount_tmpfs full 2m || { skip "full-disk tests need root and a tmpfs mount"; return; }
  GWFLOW_TEST_STEP_DELAY_MS=300 mpi2 "$GWFLOW" train cfg.toml --set 'output.dir="full/run"' \
    --set training.iterations=400 >g.out 2>g.err &
  local m=$!
  wait_for full/run/checkpoint-5.h5 || fail "train on tmpfs did not checkpoint"
  dd if=/dev/zero of=full/filler bs=1k count=4000 >/dev/null 2>&1  # until the disk is full
  wait "$m"
  local rc=$?
  if [ "$rc" -eq 1 ] && [ "$(grep -c '^gwflow: error:' g.err)" -eq 1 ] && grep -q 'No space left on device' g.err &&
    ! grep -q 'MPI_ABORT\|mpiexec noticed' g.err; then
    pass "train: a full disk during a checkpoint is one line and exit 1"
  else
    fail "train on a full disk: exit $rc"; cat g.err
  fi
  ls full/run/*.partial >/dev/null 2>&1 && fail "a partial checkpoint left on the full disk" ||
    pass "no partial checkpoint left behind"
  rm -f full/filler
  local last
  last=$(ls full/run/checkpoint-*.h5 | sort -t- -k2 -n | tail -1)
  mpi2 "$GWFLOW" train cfg.toml --set 'output.dir="full/run"' --set training.iterations=400 --restart \
    --set training.iterations=45 >h.log 2>&1 && pass "restart from $(basename "$last") after the disk was freed" ||
    { fail "restart after a full disk"; cat h.log; }
  umount full
}

# --- sample files agree with themselves: 10^7 rows of a model that saturates its box -------------
case_edge_samples_strictly_inside_the_box() {
  cat > edge.toml <<TOML
[sample]
weights = "$DATA/std_D2_L3_H5.weights.zip"
n = 10000000
seed = 5
out = "edge/samples.h5"
[logprob]
weights = "$DATA/std_D2_L3_H5.weights.zip"
input = "edge/samples.h5:/samples"
out = "edge/logprob.h5"
TOML
  if mpi2 "$GWFLOW" sample edge.toml >edge_s.log 2>&1 && mpi2 "$GWFLOW" logprob edge.toml >edge_l.log 2>&1; then
    EDGE_WEIGHTS="$DATA/std_D2_L3_H5.weights.zip" "$PY" - <<'PY' && pass "10^7 samples: strictly inside the box, /log_prob = logprob's, all finite" ||
import h5py, numpy as np, os, zipfile
# The box exactly: the model's first two tensors (low, high; no constant), float32.
z = zipfile.ZipFile(os.environ["EDGE_WEIGHTS"])
low, high = (np.frombuffer(z.read(f"std_D2_L3_H5.weights/data/{k}"), np.float32) for k in (0, 1))
s = h5py.File("edge/samples.h5", "r")
x, lp = s["samples"][...], s["log_prob"][...]
again = h5py.File("edge/logprob.h5", "r")["log_prob"][...]
assert x.shape == (10000000, 2) and x.dtype == np.float32
assert np.all(np.isfinite(lp)), "a non-finite stored density"
assert np.all((x > low) & (x < high)), "a stored sample on or outside the box"
assert np.array_equal(lp, again), f"{np.sum(lp != again)} rows differ from logprob"
PY
      { fail "10^7 samples at the box's edge"; }
    grep -o 'sample: [0-9]* candidates lay on or outside.*' edge_s.log || true
  else
    fail "10^7-row sample and logprob"; tail -5 edge_s.log edge_l.log
  fi
  rm -rf edge  # 120 MB
}

# --- small fixes ---------------------------------------------------------------------------------
# --restart with --overwrite, control bytes in --set masked, one help hint for an unknown command.
case_small_cli_fixes() {
  expect_error restart-and-overwrite 2 "\-\-restart continues the run in output.dir and \-\-overwrite discards it" -- \
    "$GWFLOW" train cfg.toml --restart --overwrite
  expect_error set-control-bytes 1 "?\[2J" -- "$GWFLOW" train cfg.toml --set "$(printf 'training.iterations=\033[2J')"
  grep -q $'\033' err.txt && fail "an escape byte reached the terminal" || pass "control bytes are masked"
  "$GWFLOW" bogus >/dev/null 2>err.txt
  [ "$(grep -o 'gwflow --help' err.txt | wc -l)" -eq 1 ] && pass "unknown command: one help hint" ||
    { fail "unknown command hint"; cat err.txt; }
}
