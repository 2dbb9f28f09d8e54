#!/usr/bin/env bash
# Checkpoint/restart tests of the real executable: a run stopped at K (by its iteration count,
# by SIGUSR1 to mpirun, or by a kill in the middle of a checkpoint write) and continued with
# --restart ends bit-identical to an uninterrupted run (weights.zip bytes, and every parameter,
# Adam moment and RNG state in the final checkpoint); corrupt and incompatible checkpoints give
# clear errors. Cases, run by run_case.sh (ctest: cli.checkpoint.CASE): the functions case_NAME
# below; setup makes the shared inputs (data.h5, cfg.toml, and on 1 rank straight1/: 60 straight
# iterations, split1/: stopped at 40 and restarted to 60).

setup() {
  "$GWFLOW" make-data seed-tutorial --n 6000 --seed 5 --out data.h5 >/dev/null || fail make-data
  cat > cfg.toml <<'TOML'
[data]
train = "data.h5:/x"
[model]
n_layers = 2
hidden_features = [6, 4]
[training]
iterations = 60
batch_size = 800
learning_rate = 3e-3
validation_step = 7
checkpoint_every = 20
TOML
  "$GWFLOW" train cfg.toml --set 'output.dir="straight1"' >/dev/null 2>&1 || fail "straight1"
  "$GWFLOW" train cfg.toml --set 'output.dir="split1"' --set training.iterations=40 >/dev/null 2>&1 || fail "split1 to 40"
  "$GWFLOW" train cfg.toml --set 'output.dir="split1"' --restart >/dev/null 2>&1 || fail "split1 restarted to 60"
}

# Stop at K = 40 (a multiple of checkpoint_every) and extend to 60, on 1 and 2 ranks.
case_restart_is_bit_identical() {
  local ranks
  for ranks in 1 2; do
    run() { if [ "$ranks" -eq 1 ]; then "$@"; else mpi2 "$@"; fi; }
    run "$GWFLOW" train cfg.toml --set "output.dir=\"straight_r$ranks\"" >/dev/null 2>&1
    run "$GWFLOW" train cfg.toml --set "output.dir=\"split_r$ranks\"" --set training.iterations=40 >/dev/null 2>&1
    run "$GWFLOW" train cfg.toml --set "output.dir=\"split_r$ranks\"" --restart >restart.txt 2>&1
    if grep -q 'continuing from .*checkpoint-40.h5' restart.txt && same_state "straight_r$ranks" "split_r$ranks"; then
      pass "stop at 40 + restart == straight 60 ($ranks rank(s))"
    else
      fail "stop at 40 + restart == straight 60 ($ranks rank(s))"; cat restart.txt
    fi
    local n
    n=$(ls "split_r$ranks"/checkpoint-*.h5 | wc -l)
    [ "$n" -eq 2 ] && pass "two checkpoints kept ($ranks rank(s))" || fail "$n checkpoints kept"
  done
}

# SIGUSR1 to mpirun of a 2-rank run: exit 75 after a checkpoint; --restart completes it,
# bit-identical to the straight run.
case_sigusr1_restart_is_bit_identical() {
  local long=(--set training.iterations=2500 --set training.checkpoint_every=0 --set training.validation_step=50)
  mpi2 "$GWFLOW" train cfg.toml "${long[@]}" --set 'output.dir="long_straight"' >/dev/null 2>&1
  # mpirun itself (not a shell function) in the background, so that $! is mpirun's pid.
  "$MPIEXEC" -n 2 "${MPIFLAGS[@]}" "$GWFLOW" train cfg.toml "${long[@]}" --set 'output.dir="long_sig"' >sig.txt 2>sig.err &
  local pid=$!
  for _ in $(seq 1 200); do grep -q '^iter' sig.txt 2>/dev/null && break; sleep 0.05; done
  sleep 0.5
  kill -USR1 $pid
  wait $pid
  local rc=$?
  local stopped
  stopped=$(sed -n 's/.*stopped by a signal after iteration \([0-9]*\).*/\1/p' sig.txt)
  if [ $rc -eq 75 ] && [ -n "$stopped" ] && [ "$stopped" -lt 2500 ]; then
    pass "SIGUSR1 to mpirun: exit 75 at iteration $stopped"
  else
    fail "SIGUSR1 to mpirun: exit $rc, stopped at '$stopped'"; cat sig.txt sig.err
  fi
  mpi2 "$GWFLOW" train cfg.toml "${long[@]}" --set 'output.dir="long_sig"' --restart >/dev/null 2>&1 \
    && same_state long_straight long_sig && pass "signal stop + restart == straight" || fail "signal stop + restart == straight"
}

# Killed in the middle of the second checkpoint write: the first survives; restart completes.
case_kill_during_checkpoint_write() {
  GWFLOW_TEST_KILL_IN_CHECKPOINT=2 "$GWFLOW" train cfg.toml --set 'output.dir="killed"' >/dev/null 2>&1
  local rc=$?
  if [ $rc -eq 137 ] && [ -f killed/checkpoint-20.h5 ] && [ ! -f killed/checkpoint-40.h5 ] && [ ! -f killed/weights.zip ]; then
    pass "kill during checkpoint write keeps the previous one"
  else
    fail "kill during checkpoint write (exit $rc)"; ls killed
  fi
  "$GWFLOW" train cfg.toml --set 'output.dir="killed"' --restart >k.txt 2>&1 && grep -q 'checkpoint-20.h5' k.txt \
    && same_state straight1 killed && pass "restart after the kill == straight" || { fail "restart after the kill"; cat k.txt; }
}

# A corrupt newest checkpoint: --restart names it; restart = "auto" falls back to the older one.
# A foreign file named like a checkpoint is named too.
case_corrupt_or_foreign_checkpoint() {
  mkdir -p corrupt && cp split1/checkpoint-40.h5 split1/checkpoint-60.h5 corrupt/
  head -c 3000 split1/checkpoint-60.h5 > corrupt/checkpoint-60.h5
  "$GWFLOW" train cfg.toml --set 'output.dir="corrupt"' --restart >c.txt 2>c.err
  local rc=$?
  if [ $rc -eq 1 ] && grep -q '^gwflow: error: corrupt/checkpoint-60.h5' c.err && [ "$(wc -l < c.err)" -eq 1 ]; then
    pass "corrupt checkpoint named"
  else
    fail "corrupt checkpoint (exit $rc)"; cat c.err
  fi
  "$GWFLOW" train cfg.toml --set 'output.dir="corrupt"' --set 'training.restart="auto"' >c.txt 2>c.err \
    && grep -q 'warning: corrupt/checkpoint-60.h5' c.err && grep -q 'continuing from corrupt/checkpoint-40.h5' c.txt \
    && pass "auto restart skips the corrupt checkpoint" || { fail "auto restart with a corrupt checkpoint"; cat c.txt c.err; }
  echo "not hdf5" > foreign.h5 && mkdir -p foreign && cp foreign.h5 foreign/checkpoint-5.h5
  "$GWFLOW" train cfg.toml --set 'output.dir="foreign"' --restart >/dev/null 2>f.err
  grep -q 'foreign/checkpoint-5.h5' f.err && pass "foreign checkpoint named" || { fail "foreign checkpoint"; cat f.err; }
}

# A checkpoint whose data was altered (still valid HDF5) fails its SHA-256; with no usable
# checkpoint, restart = "auto" moves the bad one aside and starts fresh.
case_altered_checkpoint_fails_checksum() {
  mkdir -p flipped && cp split1/checkpoint-60.h5 flipped/
  "$PY" - <<'PY'
import h5py
with h5py.File("flipped/checkpoint-60.h5", "r+") as f:
    name = next(iter(f["tensors"]))
    d = f["tensors"][name]
    v = d[()]
    v.flat[0] += 1
    d[...] = v
PY
  "$GWFLOW" train cfg.toml --set 'output.dir="flipped"' --restart >/dev/null 2>fl.err
  local rc=$?
  if [ $rc -eq 1 ] && grep -q '^gwflow: error: flipped/checkpoint-60.h5: corrupt checkpoint.*SHA-256' fl.err; then
    pass "altered checkpoint fails its checksum"
  else fail "altered checkpoint (exit $rc)"; cat fl.err; fi
  "$GWFLOW" train cfg.toml --set 'output.dir="flipped"' --set 'training.restart="auto"' --set training.iterations=30 \
    >fl.txt 2>fl.err && grep -q 'starting fresh' fl.txt && [ -f flipped/checkpoint-60.h5.unusable ] \
    && [ -f flipped/checkpoint-30.h5 ] && [ ! -f flipped/checkpoint-60.h5 ] \
    && pass "auto restart with only a bad checkpoint: moved aside, fresh run keeps its own" \
    || { fail "auto restart with only a bad checkpoint"; ls flipped; cat fl.txt fl.err; }
}

# A fresh run into a folder with an earlier run's checkpoints: an error unless --overwrite.
case_fresh_run_into_used_folder() {
  cp -r split1 reuse
  "$GWFLOW" train cfg.toml --set 'output.dir="reuse"' --set training.seed=5 >/dev/null 2>re.err
  local rc=$?
  if [ $rc -eq 1 ] && grep -q 'reuse holds checkpoints of an earlier run' re.err && [ -f reuse/checkpoint-60.h5 ]; then
    pass "fresh run into a used folder refused, nothing deleted"
  else fail "fresh run into a used folder (exit $rc)"; cat re.err; fi
  "$GWFLOW" train cfg.toml --set 'output.dir="reuse"' --set training.seed=5 --set training.iterations=30 --overwrite \
    >/dev/null 2>re.err && [ -f reuse/checkpoint-30.h5 ] && [ ! -f reuse/checkpoint-60.h5 ] \
    && "$GWFLOW" train cfg.toml --set 'output.dir="reuse"' --set training.seed=5 --set training.iterations=40 --restart \
    >re.txt 2>&1 && grep -q 'continuing from reuse/checkpoint-30.h5' re.txt \
    && pass "--overwrite starts afresh; its checkpoints survive and restart" || { fail "--overwrite"; ls reuse; cat re.err re.txt; }
}

# --restart with an incompatible config or model is refused naming the key; a changed rank count
# warns and continues.
case_restart_with_changed_config_or_ranks() {
  "$GWFLOW" train cfg.toml --set 'output.dir="split1"' --set training.learning_rate=0.01 --restart >/dev/null 2>i.err
  grep -q "training.learning_rate is '0.01' now but was '0.0030000000000000001'" i.err && pass "incompatible config named" \
    || { fail "incompatible config"; cat i.err; }
  "$GWFLOW" train cfg.toml --set 'output.dir="split1"' --set 'model.hidden_features=[6,5]' --restart >/dev/null 2>i.err
  grep -q "model.hidden_features" i.err && pass "changed model named" || { fail "changed model"; cat i.err; }
  mpi2 "$GWFLOW" train cfg.toml --set 'output.dir="split1"' --set training.iterations=70 --restart >/dev/null 2>r.err \
    && grep -q 'written by 1 ranks, this run has 2' r.err && pass "changed rank count warns and continues" \
    || { fail "changed rank count"; cat r.err; }
}

# restart = "auto" without a checkpoint starts fresh.
case_auto_restart_without_checkpoint() {
  "$GWFLOW" train cfg.toml --set 'output.dir="fresh"' --set 'training.restart="auto"' >a.txt 2>&1 \
    && grep -q 'starting fresh' a.txt && pass "auto restart without a checkpoint starts fresh" || { fail "auto fresh"; cat a.txt; }
}

# Regression loss with the plateau scheduler and early stopping: restart is bit-identical too
# (their state, the best model and the learning rates are in the checkpoint).
case_regression_scheduler_restart_is_bit_identical() {
  "$GWFLOW" make-data regression-3d --n 6000 --seed 2 --out reg.h5 >/dev/null
  local reg=(--set 'data.train="reg.h5:/x"' --set 'data.weights="reg.h5:/log_pdf"' --set model.constant=true
       --set 'training.loss="weighted_ll_mse"' --set 'training.lr_scheduler="plateau"' --set training.lr_patience=1
       --set training.early_stopping=true --set training.patience=50 --set training.iterations=200
       --set training.validation_step=5 --set training.learning_rate=0.01 --set training.lr_threshold=0.3)
  mpi2 "$GWFLOW" train cfg.toml "${reg[@]}" --set 'output.dir="reg_straight"' >reg1.txt 2>&1
  mpi2 "$GWFLOW" train cfg.toml "${reg[@]}" --set 'output.dir="reg_split"' --set training.iterations=120 >/dev/null 2>&1
  mpi2 "$GWFLOW" train cfg.toml "${reg[@]}" --set 'output.dir="reg_split"' --restart >reg2.txt 2>&1
  if same_state reg_straight reg_split && grep -q 'regression: constant C' reg1.txt && "$PY" - <<'PY'
import h5py, numpy as np
lr = h5py.File("reg_straight/history.h5", "r")["learning_rate"][:]
assert lr[0] == 0.01 and lr.min() < 0.01, lr   # the scheduler acted
PY
  then pass "regression + scheduler + early stopping: restart == straight"
  else fail "regression restart"; cat reg1.txt reg2.txt; fi
}
