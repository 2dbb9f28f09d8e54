#!/usr/bin/env python3
"""Loss and validation-metric plots of a gwflow history.h5 (mbank plot_loss_functions, docs/training.md sec. 5).

usage: plot_history.py HISTORY.h5 [--out DIR]   -> DIR/loss.png, DIR/valmetric.png
"""
import argparse
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("history")
    ap.add_argument("--out", default=None, help="output directory (default: next to the history file)")
    args = ap.parse_args()
    out = args.out or os.path.dirname(os.path.abspath(args.history))
    with h5py.File(args.history, "r") as h:
        train = h["train_loss"][:]
        val = h["validation_loss"][:]
        metric = h["valmetric_value"][:]
        step = int(h.attrs["validation_step"])
        val_it = h["validation_iteration"][:] if "validation_iteration" in h else np.arange(len(val)) * step
        mean, std = float(h.attrs["valmetric_mean"]), float(h.attrs["valmetric_std"])
        name = h.attrs["validation_metric"]
        name = name.decode() if isinstance(name, bytes) else str(name)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(np.arange(len(train)), train, lw=0.8, label="train loss")
    ax.plot(val_it, val, "o-", ms=3, label="validation loss")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=120)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(val_it, metric, "o-", ms=3, c="k", label=f"validation metric ({name})")
    ax.axhline(mean, c="r", label="expected for a perfect flow")
    ax.fill_between([val_it.min(initial=0), val_it.max(initial=1)], mean - std, mean + std, color="r", alpha=0.2,
                    label="+- std")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("mean log N(z) of the validation set")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "valmetric.png"), dpi=120)
    print(f"wrote {os.path.join(out, 'loss.png')} and {os.path.join(out, 'valmetric.png')}")


if __name__ == "__main__":
    main()
