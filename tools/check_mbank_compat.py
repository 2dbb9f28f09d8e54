#!/usr/bin/python3
"""Checks that a gwflow weights.zip is what mbank reads, with an independent Python model.

mbank itself (and glasflow/nflows) cannot be installed here (no PyPI), so this script holds a
line-by-line PyTorch re-implementation of mbank's STD_GW_Flow (TanhTransform, NaiveLinear,
MaskedAffineAutoregressiveTransform with a residual MADE), loads the file exactly as
`STD_GW_Flow.load_flow` does (torch.load, infer D / n_layers / hidden / constant from the keys,
load_state_dict(strict=True)), and compares log densities:

  check_mbank_compat.py --self-test FIXTURE_DIR
      the model reproduces the Python reference fixtures (mbank's own OrderedDict files)
  check_mbank_compat.py WEIGHTS.zip POINTS.h5:/x LOGPROB.h5[:/log_prob] [--rtol 1e-5]
      gwflow's `logprob` output equals this model's float32 log_prob on the same points
"""
import argparse
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedLinear(nn.Linear):
    def __init__(self, in_deg, out_deg, is_output):
        super().__init__(len(in_deg), len(out_deg))
        mask = (out_deg[:, None] > in_deg) if is_output else (out_deg[:, None] >= in_deg)
        self.register_buffer("mask", mask.float())
        self.register_buffer("degrees", out_deg)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class Block(nn.Module):
    def __init__(self, deg):
        super().__init__()
        self.linear_layers = nn.ModuleList([MaskedLinear(deg, deg, False), MaskedLinear(deg, deg, False)])

    def forward(self, h):
        t = self.linear_layers[0](F.relu(h))
        return h + self.linear_layers[1](F.relu(t))


class MADE(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        inp = torch.arange(1, d + 1)
        hid = torch.arange(h) % max(1, d - 1) + min(1, d - 1)
        self.initial_layer = MaskedLinear(inp, hid, False)
        self.blocks = nn.ModuleList([Block(hid), Block(hid)])
        self.final_layer = MaskedLinear(hid, inp.repeat_interleave(2), True)

    def forward(self, x):
        h = self.initial_layer(x)
        for b in self.blocks:
            h = b(h)
        return self.final_layer(h)


class MAF(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.d = d
        self.autoregressive_net = MADE(d, h)

    def forward(self, x):
        p = self.autoregressive_net(x).view(-1, self.d, 2)
        s = F.softplus(p[..., 0]) + 1e-3
        return s * x + p[..., 1], torch.log(s).sum(1)


class Linear(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(d))
        self._weight = nn.Parameter(torch.eye(d))

    def forward(self, x):
        return F.linear(x, self._weight, self.bias), torch.slogdet(self._weight)[1].expand(x.shape[0])


class Tanh(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.low = nn.Parameter(torch.zeros(d), requires_grad=False)
        self.high = nn.Parameter(torch.ones(d), requires_grad=False)

    def forward(self, x):
        y = (2 * x - self.high - self.low) / (self.high - self.low)
        return torch.atanh(y), -torch.log((1 - y ** 2) * 0.5 * (self.high - self.low)).sum(1)


class Transforms(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        mods = [Tanh(d)]
        for h in hidden:
            mods += [Linear(d), MAF(d, h)]
        self._transforms = nn.ModuleList(mods)


class StdGwFlow(nn.Module):
    def __init__(self, d, hidden, has_constant):
        super().__init__()
        if has_constant:
            self.constant = nn.Parameter(torch.zeros(1))
        self._transform = Transforms(d, hidden)
        self.d = d

    def log_prob(self, x):
        lad = torch.zeros(x.shape[0], dtype=x.dtype)
        for t in self._transform._transforms:
            x, l = t(x)
            lad = lad + l
        return -0.5 * (x ** 2).sum(1) - 0.5 * self.d * math.log(2 * math.pi) + lad


def load_flow(path):
    """As mbank's STD_GW_Flow.load_flow: architecture from the keys, then load_state_dict."""
    state = torch.load(path)
    d = len(state["_transform._transforms.0.low"])
    n_layers = int(list(state.keys())[-1].split(".")[2]) // 2
    hidden = [state[f"_transform._transforms.{2 * k + 2}.autoregressive_net.final_layer.mask"].shape[1]
              for k in range(n_layers)]
    model = StdGwFlow(d, hidden, "constant" in state)
    model.load_state_dict(state, strict=True)
    return model.float(), type(state).__name__


def read(ref, default):
    file, _, path = ref.partition(":")
    with h5py.File(file, "r") as f:
        return f[path or default][:]


def self_test(fixture_dir):
    worst = 0.0
    for name in ("std_D3_L2_H10-5", "std_D2_L3_H5", "std_D1_L1_H1"):
        model, kind = load_flow(f"{fixture_dir}/{name}.weights.zip")
        fx = torch.load(f"{fixture_dir}/{name}.fixture.pt")
        with torch.no_grad():
            lp = model.log_prob(fx["x"])
        err = float(((lp - fx["log_prob32"]).abs() / fx["log_prob32"].abs().clamp(min=1)).max())
        print(f"{name} ({kind}): max relative error vs the reference {err:.2e}")
        worst = max(worst, err)
    return worst < 1e-6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="?")
    ap.add_argument("points", nargs="?")
    ap.add_argument("logprob", nargs="?")
    ap.add_argument("--self-test", metavar="FIXTURE_DIR")
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args()
    if args.self_test:
        sys.exit(0 if self_test(args.self_test) else 1)
    model, kind = load_flow(args.weights)
    x = torch.tensor(read(args.points, "/x"), dtype=torch.float32)
    ours = read(args.logprob, "/log_prob").astype(np.float64)
    with torch.no_grad():
        ref = model.log_prob(x).double().numpy()
    ok = np.isfinite(ours) & np.isfinite(ref)
    err = np.max(np.abs(ours[ok] - ref[ok]) / np.maximum(1.0, np.abs(ref[ok])))
    print(f"{args.weights}: torch.load gives a {kind} of {len(torch.load(args.weights))} tensors; "
          f"load_state_dict(strict=True) ok; {ok.sum()} of {len(ours)} points compared, "
          f"max relative log_prob difference {err:.2e} (tolerance {args.rtol:g})")
    if hasattr(model, "constant"):
        # mbank's log_volume_element(x) = log_prob(x) + constant
        c = float(model.constant)
        lve = ref + c
        err_c = np.max(np.abs((ours[ok] + c) - lve[ok]) / np.maximum(1.0, np.abs(lve[ok])))
        print(f"constant C = {c:.6f}; log_volume_element = log_prob + C matches gwflow's log_prob + C: "
              f"max relative difference {err_c:.2e}")
        err = max(err, err_c)
    sys.exit(0 if err <= args.rtol else 1)


if __name__ == "__main__":
    main()
