"""Mean-field signal propagation (actlab.signal and friends) against closed forms, an
independent quadrature, the papers' numbers and real deep networks over seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import actlab
from actlab.theory import c_map, q_map


def _expect(f, q: float) -> float:
    """E[f(√q z)] by the trapezoid rule on 240,001 points of [−12, 12] (independent of actlab's
    Gauss–Legendre panels; O(h²) ≈ 1e-8 even across a kink)."""
    z = np.linspace(-12.0, 12.0, 240_001)
    return float(np.trapezoid(f(math.sqrt(q) * z) * np.exp(-z * z / 2), z) / math.sqrt(2 * math.pi))


def test_tanh_edge_of_chaos_matches_the_papers():
    """Poole et al. 2016 / Schoenholz et al. 2017: critical σ_w² ≈ 1.424 at σ_b² = 0.01 and ≈ 1.761
    at 0.05, where q* ≈ 0.570."""
    assert actlab.critical_sigma_w2("tanh", 0.01) == pytest.approx(1.424, abs=1e-3)
    w2 = actlab.critical_sigma_w2("tanh", 0.05)
    assert w2 == pytest.approx(1.761, abs=1e-3)
    s = actlab.signal("tanh", w2, 0.05)
    assert s.q_star == pytest.approx(0.570, abs=1e-3) and s.phase == "critical" and math.isinf(s.xi_c)
    # χ₁ = σ_w² E[sech⁴(√q* z)] by an independent rule
    assert s.chi1 == pytest.approx(w2 * _expect(lambda u: np.cosh(u) ** -4, s.q_star), rel=1e-6)


def test_relu_critical_point_and_its_polynomial_approach():
    """σ_w² = 2, σ_b² = 0; there 1 − c_l ≈ 9π²/(2l²). With σ_b² > 0 the variance diverges first."""
    assert actlab.critical_sigma_w2("relu") == pytest.approx(2.0, rel=1e-9)
    c = torch.zeros(1, dtype=torch.float64)
    for _ in range(1000):
        c = c_map("relu", c, 1.0, 2.0)
    assert float((1 - c) * 1000**2) == pytest.approx(9 * math.pi**2 / 2, rel=0.05)
    with pytest.raises(ValueError, match="diverges"):
        actlab.critical_sigma_w2("relu", 0.1)
    torch.testing.assert_close(q_map("relu", [0.5, 2.0], 3.0, 0.1), torch.tensor([0.85, 3.1], dtype=torch.float64))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "selu", "hardtanh", "gelu", "softsign"])
def test_q_map_and_chi1_against_an_independent_rule(activation):
    fn = actlab.activations.get(activation).fn
    f = lambda u: fn(torch.from_numpy(u)).numpy() ** 2  # noqa: E731
    for q in (0.3, 1.0, 2.5):
        want = 1.7 * _expect(f, q) + 0.05
        assert float(q_map(activation, [q], 1.7, 0.05)[0]) == pytest.approx(want, rel=1e-7)


def test_the_c_maps_slope_at_its_fixed_point_is_chi_c():
    s = actlab.signal("tanh", 4.0, 0.05)
    assert s.phase == "chaotic" and 0 < s.c_star < 1
    assert float(c_map("tanh", [s.c_star], s.q_star, 4.0, 0.05)[0]) == pytest.approx(s.c_star, abs=1e-9)
    h = 1e-5
    slope = float((c_map("tanh", [s.c_star + h], s.q_star, 4.0, 0.05) - c_map("tanh", [s.c_star - h], s.q_star, 4.0, 0.05))[0]) / (2 * h)
    assert slope == pytest.approx(s.chi_c, rel=1e-5)
    assert s.xi_c == pytest.approx(-1 / math.log(s.chi_c))


def test_phases_either_side_of_the_edge():
    assert actlab.signal("tanh", 1.0, 0.05).phase == "ordered"
    assert actlab.signal("tanh", 4.0, 0.05).phase == "chaotic"
    s = actlab.signal("relu", 3.0)  # the variance grows without bound: nothing to linearise around
    assert math.isinf(s.q_star) and s.chi1 == pytest.approx(1.5) and s.to_dict()["q_star"] is None


@pytest.mark.parametrize("activation, sigma_w2, sigma_b2", [("tanh", 1.5, 0.05), ("tanh", 4.0, 0.05), ("relu", 1.5, 0.1),
                                                              ("sigmoid", 6.0, 0.1)])
def test_real_deep_nets_follow_the_maps_over_seeds(activation, sigma_w2, sigma_b2):
    """Two inputs through 30 layers of width 1000, 4 seeds: their pre-activations' mean squares
    and correlation are what the maps predict from the first layer's (the recursion of
    ``pair_expectations``), and where the maps have converged, q* and c*."""
    from actlab.theory._gauss import pair_expectations

    s = actlab.signal(activation, sigma_w2, sigma_b2)
    fn = actlab.activations.get(activation).fn
    got, want = [], []
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        h = torch.randn(2, 1000, generator=g, dtype=torch.float64)
        k = h @ h.T / 1000
        for _ in range(29):
            w = torch.randn(1000, 1000, generator=g, dtype=torch.float64) * math.sqrt(sigma_w2 / 1000)
            h = fn(h) @ w.T + torch.randn(1000, generator=g, dtype=torch.float64) * math.sqrt(sigma_b2)
            q = k.diagonal().clone()
            k = sigma_w2 * pair_expectations(activation, q, q, k, want_deriv=False)[0] + sigma_b2
        emp = h @ h.T / 1000
        got.append([float(emp[0, 0]), float(emp[0, 1] / emp.diagonal().prod().sqrt())])
        want.append([float(k[0, 0]), float(k[0, 1] / k.diagonal().prod().sqrt())])
    got, want = np.mean(got, 0), np.mean(want, 0)
    assert got[0] == pytest.approx(want[0], rel=0.05) and got[1] == pytest.approx(want[1], abs=0.05)
    assert want[0] == pytest.approx(s.q_star, rel=1e-3)  # q converges within a few layers (ξ_q ≈ 1)
    if s.phase == "chaotic" or s.xi_c < 5:
        assert want[1] == pytest.approx(s.c_star, abs=5e-3)


def test_bad_input_says_what_was_expected():
    with pytest.raises(ValueError, match="maxout is not elementwise"):
        actlab.signal("maxout", 1.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        actlab.signal("tanh", 0.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        actlab.critical_sigma_w2("tanh", -0.1)
    assert actlab.critical_sigma_w2("linear") == pytest.approx(1.0, rel=1e-9)  # χ₁ = σ_w²: the signal kept as it is


def test_the_notebook_repr():
    html = actlab.signal("tanh", 4.0, 0.05)._repr_html_()
    assert "chaotic" in html and "χ₁" in html
