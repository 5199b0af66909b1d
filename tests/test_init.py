"""actlab.init: the variances it promises, orthogonality, and a deep net initialised at the edge
of chaos carrying the signal the theory predicts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import actlab


def test_gaussian_weights_have_variance_sigma_w2_over_fan_in():
    model = nn.Sequential(nn.Linear(2000, 1000), nn.Tanh(), nn.Conv2d(16, 32, 3), nn.Conv1d(4, 8, 5, groups=2))
    actlab.init.init_(model, 2.5, 0.3, generator=torch.Generator().manual_seed(0))
    lin, conv, conv1 = model[0], model[2], model[3]
    assert lin.weight.var().item() == pytest.approx(2.5 / 2000, rel=0.02)
    assert conv.weight.var().item() == pytest.approx(2.5 / (16 * 9), rel=0.05)
    assert conv1.weight.var().item() == pytest.approx(2.5 / (2 * 5), rel=0.3)  # 160 weights
    assert lin.bias.var().item() == pytest.approx(0.3, rel=0.1)


@pytest.mark.parametrize("shape", [(256, 256), (64, 256), (256, 64)])
def test_orthogonal_weights_have_equal_singular_values_and_the_gaussians_gain(shape):
    out, fan_in = shape
    layer = nn.Linear(fan_in, out, bias=False, dtype=torch.float64)
    actlab.init.init_(layer, 2.0, dist="orthogonal", generator=torch.Generator().manual_seed(1))
    sv = torch.linalg.svdvals(layer.weight)
    torch.testing.assert_close(sv, torch.full_like(sv, math.sqrt(2.0 * max(1.0, out / fan_in))))
    x = torch.randn(fan_in, 2000, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    gain = (layer.weight @ x).pow(2).sum(0).mean() / x.pow(2).sum(0).mean()
    assert gain.item() == pytest.approx(2.0 * out / fan_in, rel=0.05)  # E‖Wx‖²/‖x‖² as with Gaussian weights


def test_a_deep_tanh_net_at_the_edge_of_chaos_carries_q_star():
    """12 layers of width 1000 initialised by critical_, 10 seeds: the last pre-activations' mean
    square is the theory's q* = 0.570 (σ_b² = 0.05; one net alone varies by about ±5 %, the mean
    of ten by ±2 %), and one more layer's Jacobian keeps gradients' scale (χ₁ = 1)."""
    qs = []
    for seed in range(10):
        layers = []
        for _ in range(12):
            layers += [nn.Linear(1000, 1000, dtype=torch.float64), nn.Tanh()]
        model = nn.Sequential(*layers[:-1])
        actlab.init.critical_(model, "tanh", 0.05, generator=torch.Generator().manual_seed(seed))
        assert model[0].weight.var().item() * 1000 == pytest.approx(1.761, rel=0.01)
        h = model(torch.randn(8, 1000, dtype=torch.float64, generator=torch.Generator().manual_seed(100 + seed)))
        qs.append(h.pow(2).mean().item())
    assert sum(qs) / len(qs) == pytest.approx(0.570, rel=0.05)
    v = torch.randn(8, 1000, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    lin = nn.Linear(1000, 1000, dtype=torch.float64)
    actlab.init.critical_(lin, "tanh", 0.05, generator=torch.Generator().manual_seed(6))
    _, jv = torch.func.jvp(lambda z: lin(torch.tanh(z)), (h,), (v,))
    assert (jv.pow(2).sum() / v.pow(2).sum()).item() == pytest.approx(1.0, rel=0.05)


def test_the_same_generator_seed_gives_the_same_weights():
    a, b = nn.Linear(10, 10), nn.Linear(10, 10)
    actlab.init.init_(a, 1.0, 0.1, generator=torch.Generator().manual_seed(7))
    actlab.init.init_(b, 1.0, 0.1, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_bad_input_says_what_was_expected():
    with pytest.raises(ValueError, match="nn.Linear or nn.Conv layers, got ReLU"):
        actlab.init.init_(nn.ReLU(), 1.0)
    with pytest.raises(ValueError, match="dist: expected one of gaussian, orthogonal, got 'uniform'"):
        actlab.init.init_(nn.Linear(2, 2), 1.0, dist="uniform")
    with pytest.raises(ValueError, match="sigma_w2"):
        actlab.init.init_(nn.Linear(2, 2), -1.0)
    with pytest.raises(ValueError, match="diverges"):
        actlab.init.critical_(nn.Linear(2, 2), "relu", 0.1)
    with pytest.raises(ValueError, match="maxout"):
        actlab.init.critical_(nn.Linear(2, 2), "maxout")
