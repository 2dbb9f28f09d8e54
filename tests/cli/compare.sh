#!/usr/bin/env bash
# Comparison helpers shared by the command-line and SLURM test scripts (sourced; needs $PY, the
# Python with h5py).

# same A.h5 B.h5 DATASET...: bit-identical datasets.
same() {
  "$PY" - "$@" <<'PY'
import sys, h5py
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for d in sys.argv[3:]:
    x, y = a[d][()], b[d][()]
    assert x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes(), d
PY
}

# same_state DIR_A DIR_B: identical weights.zip bytes, history, and final checkpoint tensors
# (parameters, Adam moments, RNG states, scheduler and early-stopping state).
same_state() {
  cmp -s "$1/weights.zip" "$2/weights.zip" || { echo "weights.zip differ"; return 1; }
  "$PY" - "$1" "$2" <<'PY'
import glob, sys, h5py, numpy as np, re
def last(d):
    files = glob.glob(f"{d}/checkpoint-*.h5")
    return max(files, key=lambda f: int(re.findall(r"(\d+)\.h5$", f)[0]))
a, b = h5py.File(last(sys.argv[1]), "r"), h5py.File(last(sys.argv[2]), "r")
assert a.filename.split("/")[-1] == b.filename.split("/")[-1], (a.filename, b.filename)
ka, kb = sorted(a["tensors"].keys()), sorted(b["tensors"].keys())
assert ka == kb, "different tensor sets"
assert any(k.startswith("adam.exp_avg_sq.") for k in ka) and any(k.startswith("rng.") for k in ka)
for k in ka:
    x, y = a["tensors"][k][()], b["tensors"][k][()]
    assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), k
for k, v in a.attrs.items():
    if k.startswith("number:"):
        assert b.attrs[k] == v, k
ha, hb = h5py.File(f"{sys.argv[1]}/history.h5", "r"), h5py.File(f"{sys.argv[2]}/history.h5", "r")
for k in ("train_loss", "validation_loss", "valmetric_value"):
    assert ha[k][:].tobytes() == hb[k][:].tobytes(), k
PY
}
