"""actlab.predict: the trained infinite network's prediction, against neural-tangents'
gradient_descent_mse_ensemble (recorded), the least-squares fit (the identity activation at
t = ∞) and wide torch networks trained by gradient descent over seeds."""

import math
import os
import sys

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.nets import SimpleRNN

sys.path.insert(0, os.path.dirname(__file__))
from test_module_kernel import FIXTURES, NT_TWINS  # noqa: E402

SW, SB = 1.5, 0.1


@pytest.mark.parametrize("name", ["dense_erf_gelu", "conv_same_relu_avgpool"])
@pytest.mark.parametrize("get", ["nngp", "ntk"])
@pytest.mark.parametrize("label, t", [("t2", 2.0), ("inf", None)])
def test_equals_neural_tangents_ensemble(name, get, label, t):
    d = np.load(FIXTURES)
    make, perm = NT_TWINS[name]
    x1, x2 = torch.from_numpy(d[f"{name}/x1"]), torch.from_numpy(d[f"{name}/x2"])
    if perm:
        x1, x2 = x1.permute(*perm), x2.permute(*perm)
    p = actlab.predict(make(), x1, d[f"{name}/y"], x2, get=get, t=t, sigma_w2=float(d["sigma_w2"]),
                       sigma_b2=float(d["sigma_b2"]), compute_cov=True)
    for got, ref in ((p.mean, d[f"{name}/{get}/{label}/mean"]), (p.cov, d[f"{name}/{get}/{label}/cov"])):
        ref = torch.from_numpy(ref)
        torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6 * float(ref.abs().max()))


LINEAR = {  # linear networks whose kernel is a full-rank quadratic form in x, plus a constant
    "dense": (lambda: nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 4), nn.Identity(), nn.Linear(4, 1)), (3,)),
    "conv, same padding": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Flatten(),
                                                 nn.Linear(36, 1)), (1, 3, 3)),
    "SimpleRNN": (lambda: nn.Sequential(SimpleRNN(2, 4, "linear"), nn.Linear(4, 1)), (3, 2)),
}


@pytest.mark.parametrize("name", sorted(LINEAR))
@pytest.mark.parametrize("get", ["nngp", "ntk"])
def test_linear_network_at_infinite_time_is_least_squares(name, get):
    make, shape = LINEAR[name]
    g = torch.Generator().manual_seed(0)
    d = math.prod(shape)
    x, xt = torch.randn(3 * d + 4, *shape, dtype=torch.float64, generator=g), torch.randn(5, *shape, dtype=torch.float64, generator=g)
    y = torch.sin(3 * x.reshape(len(x), -1)).sum(1, keepdim=True)  # not linear in x: the fit leaves a residual
    p = actlab.predict(make(), x, y, xt, get=get, sigma_w2=SW, sigma_b2=SB)
    design = lambda a: np.hstack([a.reshape(len(a), -1).numpy(), np.ones((len(a), 1))])  # noqa: E731
    beta = np.linalg.lstsq(design(x), y.numpy(), rcond=None)[0]
    np.testing.assert_allclose(p.mean.numpy(), design(xt) @ beta, rtol=1e-8, atol=1e-8 * float(np.abs(y.numpy()).max()))


def _sgd_ensemble(make, width, x, y, xt, steps, lr, seeds):
    """Wide networks in the NTK parameterisation (each parameter √var·ω, ω standard normal), trained
    by full-batch gradient descent on (1/2N)Σ(g − y)², g = f − f₀ (the centred network, whose
    initial output is 0 as the ensemble mean's): their mean prediction on xt."""
    total = 0.0
    for seed in range(seeds):
        model = make(width).double()
        gen = torch.Generator().manual_seed(seed)
        scale = {k: math.sqrt(SW / (p.shape[1] * math.prod(p.shape[2:])) if p.ndim >= 2 else SB) for k, p in model.named_parameters()}
        omega0 = {k: torch.randn(p.shape, generator=gen, dtype=torch.float64) for k, p in model.named_parameters()}
        f = lambda w, inp: torch.func.functional_call(model, {k: scale[k] * v for k, v in w.items()}, (inp,))  # noqa: E731
        with torch.no_grad():
            f0, f0t = f(omega0, x), f(omega0, xt)
        omega = {k: v.clone().requires_grad_(True) for k, v in omega0.items()}
        for _ in range(steps):
            loss = ((f(omega, x) - f0 - y) ** 2).sum() / (2 * y.numel())
            grads = torch.autograd.grad(loss, list(omega.values()))
            with torch.no_grad():
                for v, gr in zip(omega.values(), grads):
                    v -= lr * gr
        with torch.no_grad():
            total = total + f(omega, xt) - f0t
    return total / seeds


def test_wide_networks_trained_by_gradient_descent_approach_the_ntk_prediction():
    make = lambda w: nn.Sequential(nn.Linear(3, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 1))  # noqa: E731
    g = torch.Generator().manual_seed(4)
    x, xt = torch.randn(6, 3, dtype=torch.float64, generator=g), torch.randn(4, 3, dtype=torch.float64, generator=g)
    y = torch.randn(6, 1, dtype=torch.float64, generator=g)
    steps, lr = 300, 0.05
    p = actlab.predict(make(2), x, y, xt, t=steps * lr, sigma_w2=SW, sigma_b2=SB)
    err = [float((_sgd_ensemble(make, w, x, y, xt, steps, lr, 3) - p.mean).abs().max() / p.mean.abs().max()) for w in (32, 512)]
    assert err[1] < 0.05, err
    assert err[0] / err[1] > 2.0, err


@torch.no_grad()
def test_nngp_posterior_mean_is_the_limit_of_fitting_the_readout_of_wide_networks():
    make = lambda w: nn.Sequential(nn.Conv1d(2, w, 3), nn.Tanh(), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(2 * w, 1))  # noqa: E731
    g = torch.Generator().manual_seed(5)
    x, xt = torch.randn(8, 2, 6, dtype=torch.float64, generator=g), torch.randn(3, 2, 6, dtype=torch.float64, generator=g)
    y = torch.randn(8, 1, dtype=torch.float64, generator=g)
    p = actlab.predict(make(2), x, y, xt, get="nngp", sigma_w2=SW, sigma_b2=SB)
    err = []
    for w in (16, 1024):
        mean = 0.0
        for seed in range(8):
            model = make(w).double()
            gen = torch.Generator().manual_seed(seed)
            for q in model.parameters():
                var = SW / (q.shape[1] * math.prod(q.shape[2:])) if q.ndim >= 2 else SB
                q.copy_(torch.randn(q.shape, generator=gen, dtype=q.dtype) * math.sqrt(var))
            feats = lambda a: torch.cat([math.sqrt(SW / (2 * w)) * model[:4](a), math.sqrt(SB) * torch.ones(len(a), 1, dtype=a.dtype)], 1)  # noqa: E731
            beta = torch.linalg.lstsq(feats(x), y, driver="gelsd").solution  # the readout trained to convergence, from 0
            mean = mean + feats(xt) @ beta
        err.append(float((mean / 8 - p.mean).abs().max() / p.mean.abs().max()))
    assert err[1] < 0.05, err
    assert err[0] / err[1] > 2.0, err


def test_bad_input():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x, y = torch.randn(4, 2), torch.randn(4)
    with pytest.raises(ValueError, match=r"y_train: expected \(4,\) or \(4, outputs\)"):
        actlab.predict(model, x, torch.randn(3), x)
    with pytest.raises(ValueError, match="t: expected a time ≥ 0"):
        actlab.predict(model, x, y, x, t=-1.0)
    with pytest.raises(ValueError, match="get: expected 'nngp' or 'ntk'"):
        actlab.predict(model, x, y, x, get=("nngp", "ntk"))
    with pytest.raises(ValueError, match="y_train: expected finite"):
        actlab.predict(model, x, torch.tensor([1.0, float("inf"), 0.0, 0.0]), x)
    with pytest.raises(ValueError, match=r"x_test: expected \(n, 2\) like x_train"):
        actlab.predict(model, x, y, torch.randn(3, 5))
    p = actlab.predict(model, x, y, x[:2], t=math.inf)
    assert p.t is None and p.cov is None and p.mean.shape == (2, 1)
