#!/usr/bin/env python3
"""Corner plot of flow samples against data (mbank compare_probability_distribution, docs/training.md sec. 5).

usage: plot_corner.py SAMPLES.h5[:/samples] DATA.h5:/x [--out corner.png] [--max-points 20000]
Histograms (step) on the diagonal, scatter in the lower triangle, density contours in the upper.
"""
import argparse

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load(ref, default_path, limit):
    file, _, path = ref.partition(":")
    with h5py.File(file, "r") as f:
        d = f[path or default_path]
        n = min(d.shape[0], limit)
        return np.asarray(d[:n], dtype=float)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples")
    ap.add_argument("data")
    ap.add_argument("--out", default="corner.png")
    ap.add_argument("--max-points", type=int, default=20000)
    args = ap.parse_args()
    flow = load(args.samples, "/samples", args.max_points)
    data = load(args.data, "/x", args.max_points)
    flow = flow[np.all(np.isfinite(flow), axis=1)]
    d = data.shape[1]
    fig, axes = plt.subplots(d, d, figsize=(2.6 * d + 1, 2.6 * d + 1), squeeze=False)
    colors = {"data": "tab:blue", "flow": "tab:orange"}
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            lo = np.percentile(np.concatenate([data[:, j], flow[:, j]]), 0.1)
            hi = np.percentile(np.concatenate([data[:, j], flow[:, j]]), 99.9)
            if i == j:
                bins = np.linspace(lo, hi, 60)
                ax.hist(data[:, i], bins=bins, histtype="step", density=True, color=colors["data"], label="data")
                ax.hist(flow[:, i], bins=bins, histtype="step", density=True, color=colors["flow"], label="flow")
            elif i > j:
                ax.scatter(data[:, j], data[:, i], s=0.3, alpha=0.3, color=colors["data"], rasterized=True)
                ax.scatter(flow[:, j], flow[:, i], s=0.3, alpha=0.3, color=colors["flow"], rasterized=True)
            else:
                ylo = np.percentile(np.concatenate([data[:, i], flow[:, i]]), 0.1)
                yhi = np.percentile(np.concatenate([data[:, i], flow[:, i]]), 99.9)
                for name, pts in (("data", data), ("flow", flow)):
                    h, xe, ye = np.histogram2d(pts[:, j], pts[:, i], bins=30, range=[[lo, hi], [ylo, yhi]], density=True)
                    xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
                    ax.contour(xc, yc, h.T, levels=h.max() * np.array([0.05, 0.2, 0.5, 0.8]), colors=colors[name],
                               linewidths=0.8)
            if i == d - 1:
                ax.set_xlabel(f"x{j}")
            if j == 0 and i != 0:
                ax.set_ylabel(f"x{i}")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("flow samples (orange) vs data (blue)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
