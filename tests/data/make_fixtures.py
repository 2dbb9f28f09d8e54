#!/usr/bin/env python3
"""Makes the reference fixtures in tests/data with the Python original: mbank's STD_GW_Flow on
glasflow's nflows, whatever torch this Python has. Run it in the environment `tools/python-env pypi`
makes (the committed files were made that way; tests/data/README.md says with which versions):

    $(tools/python-env pypi) tests/data/make_fixtures.py tests/data

Per model NAME (three architectures, each with perturbed weights and a set box, so that every code
path matters, and z_in reaching the tanh box's saturation):
  NAME.weights.zip       mbank's own save_weigths: torch.save(flow.state_dict()), an OrderedDict
  NAME.weights-dict.pt   the same tensors as a plain dict
  NAME.fixture.pt/.h5    the reference's outputs (see README.md); .h5 has attributes D, n_layers,
                         hidden, has_constant, torch_version, glasflow_version, mbank_version
Deterministic for a given torch (seeded CPU generators).
"""
import collections
import copy
import importlib.metadata as md
import math
import os
import sys
import warnings

import h5py
import numpy as np
import torch

warnings.filterwarnings("ignore")
from mbank.flow import STD_GW_Flow  # noqa: E402

MODELS = [  # name, D, hidden, constant, seed
    ("std_D3_L2_H10-5", 3, [10, 5], True, 11),
    ("std_D2_L3_H5", 2, [5, 5, 5], False, 12),
    ("std_D1_L1_H1", 1, [1], True, 13),
]
N = 64


def inverse_before_tanh(flow, z):
    """The inverse of every transform after the tanh box (the point just before the box)."""
    h = z
    for t in reversed(flow._transform._transforms[1:]):
        h, _ = t.inverse(h)
    return h


def inverse_logdet_after_tanh(flow, z):
    h, total = z, torch.zeros(z.shape[0], dtype=z.dtype)
    for t in reversed(flow._transform._transforms[1:]):
        h, ld = t.inverse(h)
        total = total + ld
    return h, total


def make(out_dir, name, d, hidden, constant, seed):
    torch.manual_seed(seed)
    flow = STD_GW_Flow(d, len(hidden), hidden, has_constant=constant)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        # Perturb every trainable parameter (not the MADE masks and degrees) well away from the
        # initialisation, so that the MADE and the linear layers are far from the identity.
        for pname, p in flow.named_parameters():
            if pname.endswith(".low") or pname.endswith(".high"):
                continue
            p.add_(0.15 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        box = flow._transform._transforms[0]
        low = -1.0 - 1.5 * torch.rand(d, generator=g)
        high = low + 0.8 + 2.0 * torch.rand(d, generator=g)
        box.low.copy_(low)
        box.high.copy_(high)
        if constant:
            flow.constant.fill_(1.25)
    flow.eval()
    flow.save_weigths(f"{out_dir}/{name}.weights.zip")
    state = flow.state_dict()
    torch.save({k: v.clone().contiguous() for k, v in state.items()}, f"{out_dir}/{name}.weights-dict.pt")

    f64 = copy.deepcopy(flow).double()
    u = 0.02 + 0.96 * torch.rand(N, d, generator=g, dtype=torch.float64)
    x = (low.double() + (high - low).double() * u).float()
    scale = torch.where(torch.arange(N) % 2 == 0, 1.0, 3.0).to(torch.float64)[:, None]
    z_in = (scale * torch.randn(N, d, generator=g, dtype=torch.float64)).float()
    fx = collections.OrderedDict()
    with torch.no_grad():
        fx["x"] = x
        fx["z_in"] = z_in
        fx["log_prob32"] = flow.log_prob(x)
        fx["z32"] = flow.transform_to_noise(x)
        x_from_z32, logdet32 = flow._transform.inverse(z_in)
        fx["x_from_z32"] = x_from_z32
        fx["logdet_inv32"] = logdet32
        fx["log_prob_of_x_from_z32"] = flow._distribution.log_prob(z_in) - logdet32
        x64, z64 = x.double(), z_in.double()
        fx["log_prob64"] = f64.log_prob(x64)
        fx["z64"] = f64.transform_to_noise(x64)
        x_from_z64, logdet64 = f64._transform.inverse(z64)
        fx["x_from_z64"] = x_from_z64
        fx["logdet_inv64"] = logdet64
        log_n64 = f64._distribution.log_prob(z64)
        fx["log_prob_of_x_from_z64"] = log_n64 - logdet64
        pre, logdet_rest = inverse_before_tanh(f64, z64), inverse_logdet_after_tanh(f64, z64)[1]
        fx["pre_tanh64"] = pre
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)): finite however large |u| is.
        h, lo = box.high.double(), box.low.double()
        log_1m_tanh2 = 2 * (math.log(2) - pre - torch.nn.functional.softplus(-2 * pre))
        logdet_tanh = torch.sum(log_1m_tanh2 + torch.log((h - lo) * 0.5), dim=1)
        fx["log_prob_of_x_from_z_stable64"] = log_n64 - (logdet_rest + logdet_tanh)
        # The normaliser 0.5 D log(2 pi) the float64 reference subtracted (nflows keeps it as a
        # buffer; some versions in float32), so that the parity tests can allow for its rounding.
        fx["log_z64"] = torch.tensor([float(f64._distribution._log_z)], dtype=torch.float64)
    torch.save(dict(fx), f"{out_dir}/{name}.fixture.pt")
    with h5py.File(f"{out_dir}/{name}.fixture.h5", "w") as f:
        for k, v in fx.items():
            f[k] = v.numpy()
        f.attrs["D"] = d
        f.attrs["n_layers"] = len(hidden)
        f.attrs["hidden"] = np.array(hidden)
        f.attrs["has_constant"] = int(constant)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["glasflow_version"] = md.version("glasflow")
        f.attrs["mbank_version"] = md.version("gw-mbank")
    ok = (1 - torch.tanh(pre) ** 2 > 1e-5).all(1).sum().item()
    print(f"{name}: |pre_tanh| up to {pre.abs().max().item():.1f}, {ok} of {N} rows well conditioned, "
          f"{int(torch.isinf(fx['log_prob_of_x_from_z32']).sum())} float32 reference densities infinite")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    print(f"torch {torch.__version__}, glasflow {md.version('glasflow')}, gw-mbank {md.version('gw-mbank')}")
    for m in MODELS:
        make(out, *m)


if __name__ == "__main__":
    main()
