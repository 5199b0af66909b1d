"""The infinite-width kernels (actlab.theory) against independent oracles: every closed form
against Monte Carlo and against the quadrature engine, the Hermite series against the direct
two-dimensional rule and Monte Carlo, the kernels against real torch networks over seeds, the
linear kernel against its closed form, and depth 100 without a NaN in either phase."""

from __future__ import annotations

import math

import pytest
import torch

import actlab
from actlab.theory import _hermite
from actlab.theory._gauss import CLOSED_FORMS, pair_expectations

# (q₁, q₂, k₁₂): unequal variances, both signs, a correlation of 0.9995 and one of 0
PAIRS = torch.tensor([[1.0, 1.0, 0.3], [0.5, 2.0, -0.7], [1.3, 0.4, 0.72], [2.0, 2.0, 1.999], [0.7, 1.1, 0.0],
                      [4.0, 0.25, 0.9]], dtype=torch.float64)
QUADRATURE = [n for n in actlab.activations.names() if n not in CLOSED_FORMS]


def _pairs(name: str, method: str = "auto"):
    """E[φφ], E[φ′φ′] for each row of PAIRS (the diagonal of the grid q₁ × q₂)."""
    k = torch.diag(PAIRS[:, 2])
    e, d = pair_expectations(name, PAIRS[:, 0], PAIRS[:, 1], k, method=method)
    return e.diagonal(), d.diagonal()


def _monte_carlo(name: str, n: int, seed: int = 0):
    """E[φφ], E[φ′φ′] and their standard errors by sampling (u, v), φ′ by autograd."""
    g = torch.Generator().manual_seed(seed)
    fn = actlab.activations.get(name).fn
    out = []
    for q1, q2, k12 in PAIRS.tolist():
        z = torch.randn(2, n, generator=g, dtype=torch.float64)
        c = k12 / math.sqrt(q1 * q2)
        uv = torch.stack([math.sqrt(q1) * z[0], math.sqrt(q2) * (c * z[0] + math.sqrt(1 - c * c) * z[1])]).requires_grad_(True)
        y = fn(uv)
        (d,) = torch.autograd.grad(y.sum(), uv)
        out.append([(p.mean().item(), p.std().item() / math.sqrt(n)) for p in ((y[0] * y[1]).detach(), d[0] * d[1])])
    return out


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS) + QUADRATURE)
def test_every_activation_equals_monte_carlo(name):
    e, d = _pairs(name)
    for k, ((me, se), (md, sd)) in enumerate(_monte_carlo(name, 400_000)):
        assert abs(e[k].item() - me) <= 5 * se + 1e-12, (name, k, e[k].item(), me, se)
        assert abs(d[k].item() - md) <= 5 * sd + 1e-12, (name, k, d[k].item(), md, sd)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_every_closed_form_equals_the_quadrature_engine(name):
    """The kinked ones too (relu, leaky_relu, abs): the rules split their panels at the kink.
    Within the series' truncation bound, TOL = 1e-7 of the pair's scale."""
    for closed, quad in zip(_pairs(name), _pairs(name, method="quadrature")):
        torch.testing.assert_close(quad, closed, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", QUADRATURE)
def test_the_hermite_series_equals_the_direct_two_dimensional_rule(name, monkeypatch):
    """With TOL = 0 every pair is integrated by the direct rule instead of Mehler's series."""
    series = _pairs(name)
    monkeypatch.setattr(_hermite, "TOL", 0.0)
    direct = _pairs(name)
    for a, b in zip(series, direct):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["tanh", "gelu", "selu", "hardtanh", "hardsigmoid", "softsign"])
def test_deep_kernels_meet_the_promised_accuracy_against_the_direct_rule(name, monkeypatch):
    """The whole NTK recursion at depth 5 on inputs of unequal norms: series (with its bound)
    against the direct rule for every pair, within 1e-5 relative (the promise is 1e-4)."""
    x = torch.randn(40, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 1.5
    got = actlab.ntk(name, x, depth=5, sigma_w2=1.5, sigma_b2=0.05)
    monkeypatch.setattr(_hermite, "TOL", 0.0)
    want = actlab.ntk(name, x, depth=5, sigma_w2=1.5, sigma_b2=0.05)
    assert ((got - want).abs().max() / want.abs().max()).item() < 1e-5


def _wide_net(activation: str, d: int, width: int, depth: int, sigma_w2: float, sigma_b2: float, n_out: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    fn = actlab.activations.get(activation).fn
    sizes = [d] + [width] * depth + [n_out]
    layers = [(torch.randn(o, i, generator=g, dtype=torch.float64) * math.sqrt(sigma_w2 / i),
               torch.randn(o, generator=g, dtype=torch.float64) * math.sqrt(sigma_b2)) for i, o in zip(sizes, sizes[1:])]

    def f(x):
        h = x
        for k, (w, b) in enumerate(layers):
            h = h @ w.T + b
            if k < len(layers) - 1:
                h = fn(h)
        return h

    return f


@pytest.mark.parametrize("activation, sigma_w2, sigma_b2", [("relu", 2.0, 0.1), ("tanh", 1.5, 0.05), ("linear", 1.0, 0.2),
                                                              ("sigmoid", 3.0, 0.0), ("selu", 1.0, 0.0), ("gelu", 2.0, 0.1)])
def test_the_nngp_is_what_wide_random_nets_compute_over_seeds(activation, sigma_w2, sigma_b2):
    x = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    want = actlab.nngp(activation, x, depth=2, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    outs = torch.cat([_wide_net(activation, 5, 1024, 2, sigma_w2, sigma_b2, 64, s)(x) for s in range(8)], 1)  # (6, 512)
    got = outs @ outs.T / outs.shape[1]
    assert (torch.linalg.norm(got - want) / torch.linalg.norm(want)).item() < 0.1


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus", "selu", "hardtanh", "sin", "linear"])
def test_the_ntk_is_the_tangent_kernel_of_a_wide_net(activation):
    """Empirical NTK of one wide net in the NTK parameterisation (standard-normal parameters,
    σ_w/√fan_in in the forward pass), by torch.func's Jacobians, against ``ntk``."""
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    sw, sb, width, depth = 1.7, 0.1, 2048, 2
    fn = actlab.activations.get(activation).fn
    sizes = [4] + [width] * depth + [1]
    g = torch.Generator().manual_seed(3)
    params = {f"{k}{j}": torch.randn(*shape, generator=g, dtype=torch.float64)
              for j, (i, o) in enumerate(zip(sizes, sizes[1:])) for k, shape in (("w", (o, i)), ("b", (o,)))}

    def f(p, xb):
        h = xb
        for j, i in enumerate(sizes[:-1]):
            h = math.sqrt(sw / i) * h @ p[f"w{j}"].T + math.sqrt(sb) * p[f"b{j}"]
            if j < depth:
                h = fn(h)
        return h[:, 0]

    jac = torch.func.jacrev(f)(params, x)
    flat = torch.cat([j.reshape(x.shape[0], -1) for j in jac.values()], 1)
    got = flat @ flat.T
    want = actlab.ntk(activation, x, depth=depth, sigma_w2=sw, sigma_b2=sb)
    assert (torch.linalg.norm(got - want) / torch.linalg.norm(want)).item() < 0.1


def test_the_linear_kernel_stays_linear_in_the_inputs_at_any_depth():
    """Σ^L = σ_w^(2(L+1)) x·x′/d + σ_b² Σ_{l≤L} σ_w^(2l): Bayesian linear regression, rank ≤ d + 1."""
    x = torch.randn(30, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    sw, sb, L = 1.3, 0.2, 5
    want = sw ** (L + 1) * (x @ x.T) / 4 + sb * sum(sw**l for l in range(L + 1))
    got = actlab.nngp("linear", x, depth=L, sigma_w2=sw, sigma_b2=sb)
    torch.testing.assert_close(got, want)
    assert torch.linalg.matrix_rank(got).item() <= 5


def test_x2_gives_the_cross_block_of_the_joint_kernel():
    x = torch.randn(9, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    for name in ("tanh", "relu"):
        joint = actlab.ntk(name, x, depth=3, sigma_w2=1.2, sigma_b2=0.1)
        cross = actlab.ntk(name, x[:4], x[4:], depth=3, sigma_w2=1.2, sigma_b2=0.1)
        torch.testing.assert_close(cross, joint[:4, 4:], rtol=1e-6, atol=1e-12)  # each within the series' bound


@pytest.mark.parametrize("activation, sigma_w2, sigma_b2", [("tanh", 1.0, 0.05), ("tanh", 4.0, 0.05), ("relu", 2.0, 0.0),
                                                              ("relu", 3.0, 0.1), ("sigmoid", 2.0, 0.1), ("abs", 1.0, 0.0),
                                                              ("sin", 2.0, 0.1), ("softplus", 1.0, 0.1), ("hardtanh", 3.0, 0.0)])
def test_depth_100_makes_no_nan_in_either_phase(activation, sigma_w2, sigma_b2):
    x = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x = torch.cat([x, x[:1], -x[1:2]])  # a duplicated input (correlation 1) and a negated one
    for kernel in (actlab.nngp, actlab.ntk):
        k = kernel(activation, x, depth=100, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
        assert torch.isfinite(k).all(), (activation, kernel.__name__)
        torch.testing.assert_close(k, k.T)
        torch.testing.assert_close(k[0], k[8], rtol=1e-5, atol=0.0)  # 100 layers of rounding


def test_bad_arguments_say_what_was_expected():
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match="maxout is not elementwise"):
        actlab.nngp("maxout", x)
    with pytest.raises(ValueError, match="no_such"):
        actlab.ntk("no_such", x)
    with pytest.raises(ValueError, match=r"x1: expected a batch of inputs \(n1, d\) with d ≥ 1, got shape \(3,\)"):
        actlab.nngp("relu", torch.randn(3))
    with pytest.raises(ValueError, match=r"x2: expected \(n, 2\) like x1"):
        actlab.nngp("relu", x, torch.randn(3, 5))
    with pytest.raises(ValueError, match="x1: expected finite"):
        actlab.nngp("relu", torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="depth"):
        actlab.nngp("relu", x, depth=-1)
    with pytest.raises(ValueError, match="sigma_w2"):
        actlab.ntk("relu", x, sigma_w2=0.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        actlab.ntk("relu", x, sigma_b2=-1.0)


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "hardsigmoid", "hardswish", "relu", "abs"])
def test_piecewise_polynomials_hermite_coefficients_in_closed_form_equal_the_rule(name):
    """The closed-form coefficients (interval integrals of Hermite polynomials) against the
    kink-split Gauss–Legendre rule, for variances that put the kinks near and far."""
    q = torch.tensor([0.01, 0.3, 1.0, 4.0, 30.0], dtype=torch.float64)
    rule, exact = _hermite.moments(name, q, k=128), _hermite.piecewise_moments(name, q, True, k=128)
    torch.testing.assert_close(exact.a, rule.a, rtol=0, atol=1e-12)
    torch.testing.assert_close(exact.second, rule.second, rtol=1e-12, atol=0)
    # φ′: torch's hardsigmoid backward uses 1/6 rounded to float32, the closed form the exact 1/6
    torch.testing.assert_close(exact.ad, rule.ad, rtol=0, atol=1e-8 if name == "hardsigmoid" else 1e-12)


@pytest.mark.parametrize("activation", [n for n in actlab.activations.names()])
def test_every_activations_nngp_is_the_mean_kernel_of_real_torch_nets(activation):
    """16 nets of nn.Linear layers, width 1024: the mean of their readouts' covariance is within
    10 % Frobenius of ``nngp`` (measured 0.1–7 %; a wrong convention or formula is off by far more)."""
    from actlab.experiments.kernels import empirical_nngp

    x = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    want = actlab.nngp(activation, x, depth=2, sigma_w2=1.5, sigma_b2=0.1)
    got = sum(empirical_nngp(activation, x, 1024, 2, 1.5, 0.1, seed=s) for s in range(16)) / 16
    assert (torch.linalg.norm(got - want) / torch.linalg.norm(want)).item() < 0.1
