#!/usr/bin/env python3
"""Compares a gwflow logprob output with the real mbank on the same weights and points.

Run it with the Python that `tools/python-env pypi` (or `debian`) prints:

    $(tools/python-env pypi) tools/compare_with_mbank.py WEIGHTS.zip POINTS.h5[:/x] LOGPROB.h5[:/log_prob] [--rtol 1e-4]

Loads WEIGHTS with unmodified mbank (STD_GW_Flow.load_flow: the installed torch's default
torch.load), evaluates mbank's float32 log_prob on the points and prints the largest relative
difference to gwflow's (and its 99.9th percentile: float32 log densities of points close to the
box's edge are ill conditioned in both codes); exit 1 above --rtol. Points outside the flow's box (-inf in gwflow) are
skipped, as mbank raises InputOutsideDomain for them.
"""
import argparse
import sys
import warnings

import h5py
import numpy as np
import torch

warnings.filterwarnings("ignore")
from mbank.flow import STD_GW_Flow  # noqa: E402


def read(ref, default):
    file, _, path = ref.partition(":")
    with h5py.File(file, "r") as f:
        return f[path or default][:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("points")
    ap.add_argument("logprob")
    ap.add_argument("--rtol", type=float, default=1e-4)
    args = ap.parse_args()
    flow = STD_GW_Flow.load_flow(args.weights)
    x = read(args.points, "/x")
    ours = read(args.logprob, "/log_prob").astype(np.float64)
    box = flow._transform._transforms[0]
    low, high = box.low.detach().double().numpy(), box.high.detach().double().numpy()
    inside = np.all((x > low) & (x < high), axis=1) & np.isfinite(ours)
    with torch.no_grad():
        ref = flow.log_prob(torch.tensor(x[inside], dtype=torch.float32)).double().numpy()
    rel = np.abs(ours[inside] - ref) / np.maximum(1.0, np.abs(ref))
    err = float(rel.max()) if inside.any() else 0.0
    p999 = float(np.quantile(rel, 0.999)) if inside.any() else 0.0
    print(f"torch {torch.__version__}: mbank loaded {args.weights}; {inside.sum()} of {len(x)} points compared, "
          f"max relative log_prob difference {err:.2e} (99.9 % below {p999:.1e}; tolerance {args.rtol:g})")
    return 0 if err <= args.rtol else 1


if __name__ == "__main__":
    sys.exit(main())
