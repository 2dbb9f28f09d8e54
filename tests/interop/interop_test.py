#!/usr/bin/env python3
"""Round trips between gwflow and the real mbank (gw-mbank on glasflow/nflows) on whatever torch
this Python has. Run by tests/interop/run_interop_tests.sh once per Python environment.

(a) mbank builds STD_GW_Flow models (several architectures, constant on and off), trains them
    briefly with its own train_flow, saves them with its own save_weigths. gwflow's info, logprob
    and sample read the file; gwflow's log_prob equals mbank's on the same points, to 1e-5
    (float32) and 1e-10 (float64, after adding back nflows' float32-rounded normaliser).
(b) gwflow trains (forward_KL; ll_mse with the constant). Unmodified STD_GW_Flow.load_flow, whose
    torch.load is weights_only=True by default since torch 2.6, loads the weights; mbank's
    log_prob on gwflow's samples equals gwflow's /log_prob, and for the regression model mbank's
    log_volume_element equals gwflow's log_prob + C. torch.load(weights_only=True) is also called
    explicitly, so torch 1.13 (whose default is False) checks the allowlist too.
(c) mbank's sample runs on gwflow's weights and stays inside the box.

Prints one line per check with its figure; exits 1 if any check fails.
Usage: interop_test.py GWFLOW_BINARY WORK_DIR
"""
import copy
import math
import os
import subprocess
import sys
import warnings
import zipfile

import h5py
import numpy as np
import torch

warnings.filterwarnings("ignore")
from mbank.flow import STD_GW_Flow  # noqa: E402

GWFLOW, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
failures = []


def check(name, ok, figure):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {figure}", flush=True)
    if not ok:
        failures.append(name)


def gwflow(*args):
    r = subprocess.run([GWFLOW, *args], capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if r.returncode != 0:
        raise SystemExit(f"gwflow {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def max_rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0)))


def log_z_offset(flow, d):
    """Some nflows versions keep the normaliser 0.5 D log(2 pi) as a float32 buffer, so a float64
    model carries its rounding (glasflow 0.4 keeps it in float64); gwflow uses the exact value.
    Returns what to add to mbank's float64 log_prob to get the exact-normaliser density."""
    buf = getattr(flow._distribution, "_log_z", None)
    return 0.0 if buf is None else float(buf) - 0.5 * d * math.log(2 * math.pi)


def write_points(path, x):
    with h5py.File(path, "w") as f:
        f["x"] = x


def toml_list(v):
    return "[" + ", ".join(repr(float(t)) for t in v) + "]"


def data_for(d, n, rng):
    """Points with a shape a flow must learn: exponential in dim 0, correlated normals after."""
    x = rng.normal(size=(n, d))
    x[:, 0] = rng.exponential(size=n)
    if d > 1:
        x[:, 1] += 0.5 * x[:, 0]
    return x


def box(flow):
    t = flow._transform._transforms[0]
    return t.low.detach().double().numpy(), t.high.detach().double().numpy()


def in_box(flow, x):
    """mbank's TanhTransform.forward raises InputOutsideDomain for a whole batch if one row is not
    strictly inside the box after its float32 arithmetic; rows that near the edge are left out."""
    low, high = box(flow)
    u = (2 * x.astype(np.float32) - (high + low).astype(np.float32)) / (high - low).astype(np.float32)
    return np.all((x > low) & (x < high) & (np.abs(u) < 1 - 1e-6), axis=1)


def compare_at_samples(name, flow, s, lp, method="log_prob"):
    """mbank's float32 log_prob at gwflow's stored samples against gwflow's /log_prob (+ add).
    Both sides round to float32, and near the box edge log_prob is ill conditioned in x, so the
    tolerance of each row is float32 epsilon times its condition number, from the float64 gradient:
    eps32 * (16 |lp| + 64 sum_j |d lp / d x_j| (|x_j| + high_j - low_j)), plus 1e-5."""
    inside = in_box(flow, s)
    x32 = torch.tensor(s[inside], dtype=torch.float32)
    with torch.no_grad():
        ref = np.asarray(getattr(flow, method)(x32), dtype=np.float64)  # log_volume_element: numpy
    low, high = box(flow)
    x64 = torch.tensor(s[inside], dtype=torch.float64, requires_grad=True)
    f64 = copy.deepcopy(flow).double()
    g = torch.autograd.grad(f64.log_prob(x64).sum(), x64)[0].numpy()
    eps = float(np.finfo(np.float32).eps)
    tol = 1e-5 + eps * (16 * np.abs(ref) + 64 * np.sum(np.abs(g) * (np.abs(s[inside]) + (high - low)), axis=1))
    diff = np.abs(lp[inside] - ref)
    worst = int(np.argmax(diff / tol))
    ok = bool(np.all(diff <= tol)) and inside.mean() > 0.99
    check(name, ok, f"max |diff| {diff.max():.2e}, max rel diff {max_rel(lp[inside], ref):.2e}, worst "
          f"diff/tol {diff[worst] / tol[worst]:.2f}; {inside.sum()} of {len(s)} samples (the rest on the box edge)")


print(f"torch {torch.__version__}, numpy {np.__version__}", flush=True)
rng = np.random.default_rng(7)

# ---- (a) mbank trains and saves; gwflow reads -------------------------------------------------
for d, hidden, constant in [(2, [4, 4], False), (3, [6], True), (1, [3, 2], True)]:
    tag = f"D{d}_L{len(hidden)}_H{'-'.join(map(str, hidden))}_{'C' if constant else 'noC'}"
    torch.manual_seed(1)
    flow = STD_GW_Flow(d, len(hidden), hidden, has_constant=constant)
    x = data_for(d, 3000, rng)
    train, valid = x[:2500], x[2500:]
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    if constant:
        # ll_mse fits log_prob + C to a target log density (a standard normal's, unnormalised).
        w = -0.5 * np.sum(x**2, axis=1) + 1.0
        flow.train_flow("ll_mse", 30, train, valid, opt, train_weights=w[:2500], validation_weights=w[2500:],
                        batch_size=500, validation_step=10)
    else:
        flow.train_flow("forward_KL", 30, train, valid, opt, batch_size=500, validation_step=10)
    weights = f"{WORK}/mbank_{tag}.zip"
    flow.save_weigths(weights)
    info = gwflow("info", weights)
    check(f"(a) {tag} gwflow info reads mbank's file", f"D={d}, n_layers={len(hidden)}" in info,
          info.splitlines()[1].strip() if len(info.splitlines()) > 1 else info)
    pts = valid[in_box(flow, valid)]
    write_points(f"{WORK}/pts_{tag}.h5", pts)
    with torch.no_grad():
        ref32 = flow.log_prob(torch.tensor(pts, dtype=torch.float32)).numpy()
        ref64 = flow.double().log_prob(torch.tensor(pts, dtype=torch.float64)).numpy() + log_z_offset(flow, d)
        flow.float()
    for dtype, ref, tol in [("float32", ref32, 1e-5), ("float64", ref64, 1e-10)]:
        out = f"{WORK}/lp_{tag}_{dtype}.h5"
        cfg = f"{WORK}/lp_{tag}_{dtype}.toml"
        with open(cfg, "w") as f:
            f.write(f'[logprob]\nweights = "{weights}"\ninput = "{WORK}/pts_{tag}.h5:/x"\nout = "{out}"\n'
                    f'dtype = "{dtype}"\n')
        gwflow("logprob", cfg, "--overwrite")
        with h5py.File(out, "r") as f:
            got = f["log_prob"][...]
        err = max_rel(got, ref)
        check(f"(a) {tag} gwflow logprob {dtype} vs mbank", err < tol, f"max rel diff {err:.2e} (tol {tol:g}, {len(pts)} points)")
    cfg = f"{WORK}/s_{tag}.toml"
    with open(cfg, "w") as f:
        f.write(f'[sample]\nweights = "{weights}"\nn = 2000\nseed = 3\nout = "{WORK}/s_{tag}.h5"\n')
    gwflow("sample", cfg, "--overwrite")
    with h5py.File(f"{WORK}/s_{tag}.h5", "r") as f:
        s, lp = f["samples"][...], f["log_prob"][...]
    compare_at_samples(f"(a) {tag} gwflow sample: mbank log_prob at gwflow's samples", flow, s, lp)

# ---- (b), (c) gwflow trains; unmodified mbank loads ----------------------------------------------
for loss in ["forward_KL", "ll_mse"]:
    tag = f"gwflow_{loss}"
    d = 3
    x = data_for(d, 6000, rng)
    data = f"{WORK}/{tag}_data.h5"
    with h5py.File(data, "w") as f:
        f["x"] = x
        f["logp"] = -0.5 * np.sum(x**2, axis=1) + 1.0
    run = f"{WORK}/{tag}"
    constant = loss == "ll_mse"
    with open(f"{run}.toml", "w") as f:
        f.write(f'[data]\ntrain = "{data}:/x"\n' + (f'weights = "{data}:/logp"\n' if constant else "") +
                f'validation_fraction = 0.1\n\n[model]\nn_layers = 2\nhidden_features = 5\n'
                f'constant = {"true" if constant else "false"}\n\n'
                f'[training]\nloss = "{loss}"\niterations = 60\nbatch_size = 1000\nlearning_rate = 3e-3\n'
                f'validation_step = 20\nseed = 0\n\n[output]\ndir = "{run}"\n\n'
                f'[sample]\nweights = "{run}/weights.zip"\nn = 3000\nseed = 1\nout = "{run}/samples.h5"\n')
    gwflow("train", f"{run}.toml", "--overwrite")
    gwflow("sample", f"{run}.toml", "--overwrite")
    weights = f"{run}/weights.zip"
    try:
        torch.load(weights, weights_only=True)
        check(f"(b) {tag} torch.load(weights_only=True)", True, "loads")
    except Exception as e:  # noqa: BLE001
        check(f"(b) {tag} torch.load(weights_only=True)", False, str(e).splitlines()[0])
    flow = STD_GW_Flow.load_flow(weights)  # unmodified mbank, the installed torch's default torch.load
    # gwflow's file is what this torch's torch.save(flow.state_dict()) writes: same pickle, same
    # storages (and, from torch 2.x, the same records in the same order; only the random
    # serialization id differs).
    os.makedirs(f"{run}/resaved", exist_ok=True)
    flow.save_weigths(f"{run}/resaved/weights.zip")
    with zipfile.ZipFile(weights) as a, zipfile.ZipFile(f"{run}/resaved/weights.zip") as b:
        na, nb = a.namelist(), b.namelist()
        same = [n for n in nb if n in na and not n.endswith("serialization_id") and a.read(n) == b.read(n)]
        differ = [n for n in nb if n not in same and not n.endswith("serialization_id")]
        pkl_ok = "weights/data.pkl" in same and all(n in same for n in nb if "/data/" in n)
        if int(torch.__version__.split(".")[0]) >= 2:
            pkl_ok = pkl_ok and na == nb
        check(f"(b) {tag} gwflow's weights.zip = torch.save(mbank flow.state_dict())", pkl_ok and not differ,
              f"{len(same)} of {len(nb)} records byte-identical, order {'same' if na == nb else 'differs'}"
              + (f"; differ: {differ}" if differ else ""))
    with h5py.File(f"{run}/samples.h5", "r") as f:
        s, lp = f["samples"][...], f["log_prob"][...]
    compare_at_samples(f"(b) {tag} mbank load_flow + log_prob at gwflow's samples", flow, s, lp)
    if constant:
        c = float(torch.load(weights, weights_only=True)["constant"].reshape(-1)[0])
        compare_at_samples(f"(b) {tag} mbank log_volume_element = gwflow log_prob + C (C = {c:.4f})", flow, s,
                           lp + c, "log_volume_element")
    with torch.no_grad():
        torch.manual_seed(2)
        ms = flow.sample(2000).numpy()
    check(f"(c) {tag} mbank sample on gwflow's weights", bool(np.all(np.isfinite(ms)) and np.all(in_box(flow, ms))),
          f"{len(ms)} samples, all finite and inside the box")

print(f"{'FAILED: ' + ', '.join(failures) if failures else 'all interop checks passed'}")
sys.exit(1 if failures else 0)
