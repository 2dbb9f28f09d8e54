#!/usr/bin/env bash
# Generation tests (sample / logprob) of the real executable: datasets identical for 1 and 2
# ranks and any block size (plain and bounded sampling, logprob), resume after an injected
# crash, after an external SIGKILL and after SIGUSR1 (exit 75) ends identical to an uninterrupted
# run, a finished file is a no-op, a mismatched file is an error unless --overwrite, an
# unreachable box fails after a bounded number of candidates, and the samples follow the flow's
# density (chi-square against logprob integrated on a grid).
# Cases, run by run_case.sh (ctest: cli.generation.CASE): the functions case_NAME below; setup
# makes the shared inputs (data.h5, cfg.toml, the model in model/, and the 1-rank references
# s1.h5 from sample and l1.h5 from logprob).

setup() {
  "$GWFLOW" make-data seed-tutorial --n 6000 --seed 5 --out data.h5 >/dev/null || fail make-data
  cat > cfg.toml <<'TOML'
[data]
train = "data.h5:/x"
[model]
n_layers = 2
hidden_features = 6
[training]
iterations = 150
batch_size = 1000
learning_rate = 5e-3
validation_step = 50
[output]
dir = "model"
[sample]
weights = "model/weights.zip"
n = 30000
seed = 3
out = "s.h5"
block_size = 4000
[logprob]
weights = "model/weights.zip"
input = "data.h5:/x"
out = "l.h5"
noise = true
block_size = 1000
TOML
  "$GWFLOW" train cfg.toml >/dev/null 2>&1 || fail "training the test model"
  "$GWFLOW" sample cfg.toml --set 'sample.out="s1.h5"' >/dev/null 2>&1 || fail "the reference sample s1.h5"
  "$GWFLOW" logprob cfg.toml --set 'logprob.out="l1.h5"' >/dev/null 2>&1 || fail "the reference logprob l1.h5"
}

# Plain sampling: 1 vs 2 ranks, three block sizes.
case_sample_independent_of_ranks_and_blocks() {
  mpi2 "$GWFLOW" sample cfg.toml --set 'sample.out="s2.h5"' --set sample.block_size=777 >/dev/null 2>&1
  mpi2 "$GWFLOW" sample cfg.toml --set 'sample.out="s3.h5"' --set sample.block_size=50000 >/dev/null 2>&1
  same s1.h5 s2.h5 /samples /log_prob && same s1.h5 s3.h5 /samples /log_prob \
    && pass "sample identical for 1/2 ranks and block sizes 4000/777/50000" || fail "sample rank/block independence"
}

# The LibTorch backend: also independent of ranks and block sizes (padded blocks), and close to
# the Kokkos kernels; logprob on its file (other blocks, other ranks) reproduces its /log_prob bit
# for bit, both where sample reused its candidate densities (t1: one rank, no rejections, places
# 64 apart) and where it evaluated them again at the rows' places in the file (t2: blocks of 777
# on 2 ranks).
case_torch_backend() {
  "$GWFLOW" sample cfg.toml --set 'sample.out="t1.h5"' --set 'sample.backend="torch"' >/dev/null 2>&1
  mpi2 "$GWFLOW" sample cfg.toml --set 'sample.out="t2.h5"' --set 'sample.backend="torch"' --set sample.block_size=777 >/dev/null 2>&1
  same t1.h5 t2.h5 /samples /log_prob && "$PY" - <<'PY' && pass "torch backend: identical for 1/2 ranks, block sizes; matches kokkos" || fail "torch backend sampling"
import h5py, numpy as np
a, b = h5py.File("t1.h5", "r"), h5py.File("s1.h5", "r")
for d in ("samples", "log_prob"):
    x, y = a[d][:].astype(float), b[d][:].astype(float)
    assert np.max(np.abs(x - y) / np.maximum(1, np.abs(y))) < 1e-4, d
PY
  local t
  for t in t1 t2; do
    mpi2 "$GWFLOW" logprob cfg.toml --set "logprob.input=\"$t.h5:/samples\"" --set "logprob.out=\"${t}l.h5\"" \
      --set logprob.noise=false --set 'logprob.backend="torch"' --set logprob.block_size=333 >/dev/null 2>&1 \
      && "$PY" - "$t" <<'PY' && pass "torch backend: logprob on $t.h5 == its /log_prob" || fail "torch backend: logprob on $t.h5"
import sys, h5py, numpy as np
t = sys.argv[1]
a, b = h5py.File(f"{t}.h5", "r")["log_prob"][:], h5py.File(f"{t}l.h5", "r")["log_prob"][:]
assert np.array_equal(a, b), f"{np.count_nonzero(a != b)} rows differ"
PY
  done
}

# Bounded sampling: exactly n rows, all inside, identical for 1/2 ranks and block sizes; a box the
# flow does not reach fails after a bounded number of candidates.
case_bounded_sample() {
  local box=(--set 'sample.boundaries=[[0.5,-1.0],[3.0,0.5]]' --set sample.n=5000)
  "$GWFLOW" sample cfg.toml "${box[@]}" --set 'sample.out="b1.h5"' >b1.txt 2>&1
  mpi2 "$GWFLOW" sample cfg.toml "${box[@]}" --set 'sample.out="b2.h5"' --set sample.block_size=999 >/dev/null 2>&1
  if same b1.h5 b2.h5 /samples /log_prob && grep -q 'acceptance' b1.txt && "$PY" - <<'PY'
import h5py, numpy as np
s = h5py.File("b1.h5", "r")["samples"][:]
assert s.shape == (5000, 2)
assert np.all((s[:, 0] > 0.5) & (s[:, 0] < 3.0) & (s[:, 1] > -1.0) & (s[:, 1] < 0.5))
PY
  then pass "bounded sample: 5000 rows inside, identical for 1/2 ranks ($(grep -o 'acceptance [0-9.e-]*' b1.txt))"
  else fail "bounded sample"; cat b1.txt; fi
  "$GWFLOW" sample cfg.toml --set 'sample.boundaries=[[50,50],[60,60]]' --set sample.n=10 --set 'sample.out="never.h5"' \
    >/dev/null 2>never.err
  [ $? -eq 1 ] && grep -q 'does not reach it' never.err && pass "unreachable box fails after bounded candidates" \
    || { fail "unreachable box"; cat never.err; }
}

# logprob: 1 vs 2 ranks and block sizes, with /z.
case_logprob_independent_of_ranks_and_blocks() {
  mpi2 "$GWFLOW" logprob cfg.toml --set 'logprob.out="l2.h5"' --set logprob.block_size=333 >/dev/null 2>&1
  same l1.h5 l2.h5 /log_prob /z && pass "logprob identical for 1/2 ranks and block sizes" || fail "logprob rank independence"
}

# Resume after an injected crash (progress not recorded for the round in flight), sample and logprob.
case_resume_after_injected_crash() {
  GWFLOW_TEST_KILL_AFTER_ROWS=12000 mpi2 "$GWFLOW" sample cfg.toml --set 'sample.out="k.h5"' >/dev/null 2>&1
  [ -f k.h5.partial ] && [ ! -f k.h5 ] && pass "injected crash leaves a partial file" || fail "injected crash"
  mpi2 "$GWFLOW" sample cfg.toml --set 'sample.out="k.h5"' >k.txt 2>&1 && grep -q 'resuming' k.txt && same s1.h5 k.h5 /samples /log_prob \
    && pass "resume after the injected crash == uninterrupted" || { fail "resume after injected crash"; cat k.txt; }
  GWFLOW_TEST_KILL_AFTER_ROWS=2500 "$GWFLOW" logprob cfg.toml --set 'logprob.out="kl.h5"' >/dev/null 2>&1
  "$GWFLOW" logprob cfg.toml --set 'logprob.out="kl.h5"' >kl.txt 2>&1 && grep -q resuming kl.txt && same l1.h5 kl.h5 /log_prob /z \
    && pass "logprob resume == uninterrupted" || { fail "logprob resume"; cat kl.txt; }
}

# An external SIGKILL at an arbitrary instant, several times, then finish.
case_resume_after_sigkills() {
  local big=(--set sample.n=400000 --set sample.block_size=5000 --set 'sample.out="big.h5"')
  "$GWFLOW" sample cfg.toml --set sample.n=400000 --set 'sample.out="big_ref.h5"' >/dev/null 2>&1
  local delay pid
  for delay in 0.3 0.7 0.15; do
    "$GWFLOW" sample cfg.toml "${big[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
  done
  "$GWFLOW" sample cfg.toml "${big[@]}" >big.txt 2>&1 && same big_ref.h5 big.h5 /samples /log_prob \
    && pass "three SIGKILLs at arbitrary instants, then finish == uninterrupted" || { fail "external SIGKILL resume"; cat big.txt; }
}

# SIGUSR1: finish the round, record it, exit 75; rerun finishes identical.
case_sigusr1_exit_75_and_resume() {
  "$GWFLOW" sample cfg.toml --set sample.n=3000000 --set 'sample.out="u_ref.h5"' >/dev/null 2>&1
  "$MPIEXEC" -n 2 "${MPIFLAGS[@]}" "$GWFLOW" sample cfg.toml --set sample.n=3000000 --set sample.block_size=2000 \
    --set 'sample.out="u.h5"' >u.txt 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do grep -q '^sample: 3000000 rows' u.txt 2>/dev/null && break; sleep 0.05; done
  sleep 0.3
  kill -USR1 $pid
  wait $pid
  local rc=$?
  mpi2 "$GWFLOW" sample cfg.toml --set sample.n=3000000 --set 'sample.out="u.h5"' >u2.txt 2>&1
  if [ $rc -eq 75 ] && grep -q 'stopped by a signal' u.txt && grep -q resuming u2.txt && same u_ref.h5 u.h5 /samples /log_prob; then
    pass "SIGUSR1: exit 75, rerun completes identical"
  elif [ $rc -eq 0 ]; then
    echo "note: sampling finished before SIGUSR1 arrived"; same u_ref.h5 u.h5 /samples /log_prob && pass "SIGUSR1 (finished first)"
  else fail "SIGUSR1 on sample (exit $rc)"; cat u.txt u2.txt; fi
}

# A finished file is a no-op; another seed is an error unless --overwrite.
case_finished_or_mismatched_file() {
  cp s1.h5 seed3.h5   # the finished file as it was, to tell that --overwrite replaced it
  "$GWFLOW" sample cfg.toml --set 'sample.out="s1.h5"' >n.txt 2>&1 && grep -q 'already complete' n.txt \
    && pass "finished file: no-op" || { fail "finished no-op"; cat n.txt; }
  "$GWFLOW" sample cfg.toml --set 'sample.out="s1.h5"' --set sample.seed=4 >/dev/null 2>m.err
  [ $? -eq 1 ] && grep -q 'use --overwrite' m.err && pass "mismatched file: error" || { fail "mismatch error"; cat m.err; }
  "$GWFLOW" sample cfg.toml --set 'sample.out="s1.h5"' --set sample.seed=4 --overwrite >/dev/null 2>&1 \
    && ! same s1.h5 seed3.h5 /samples 2>/dev/null && pass "--overwrite replaces it" || fail "--overwrite"
}

# The samples follow the flow's density: chi-square of a 2-D histogram of 200k samples against
# exp(log_prob) integrated on a fine grid over the same bins.
case_samples_follow_the_density() {
  "$GWFLOW" sample cfg.toml --set sample.n=200000 --set sample.seed=11 --set 'sample.out="h.h5"' --set 'sample.dtype="float64"' >/dev/null 2>&1
  "$PY" - <<'PY'
import h5py, numpy as np
x0, x1 = np.linspace(-0.05, 6.0, 601), np.linspace(-3.5, 3.5, 701)
g = np.stack(np.meshgrid(0.5 * (x0[1:] + x0[:-1]), 0.5 * (x1[1:] + x1[:-1]), indexing="ij"), -1).reshape(-1, 2)
with h5py.File("grid.h5", "w") as f:
    f["x"] = g
PY
  "$GWFLOW" logprob cfg.toml --set 'logprob.input="grid.h5:/x"' --set 'logprob.out="grid_lp.h5"' --set logprob.noise=false \
    --set 'logprob.dtype="float64"' >/dev/null 2>&1
  "$PY" - <<'PY' && pass "sample histogram matches the flow density (chi-square)" || fail "sample histogram vs density"
import h5py, numpy as np
lp = h5py.File("grid_lp.h5", "r")["log_prob"][:].reshape(600, 700)
cell = (6.05 / 600) * (7.0 / 700)
p = np.where(np.isfinite(lp), np.exp(lp), 0.0) * cell
P = p.reshape(20, 30, 20, 35).sum(axis=(1, 3))        # 20 x 20 bins
s = h5py.File("h.h5", "r")["samples"][:]
H, _, _ = np.histogram2d(s[:, 0], s[:, 1], bins=[np.linspace(-0.05, 6.0, 21), np.linspace(-3.5, 3.5, 21)])
n = len(s)
E = P * n
m = E > 20
chi2 = np.sum((H[m] - E[m]) ** 2 / E[m])
dof = m.sum() - 1
print(f"mass on grid {P.sum():.4f}, chi2 {chi2:.1f} for {dof} bins")
assert P.sum() > 0.97, P.sum()
assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)
PY
}
