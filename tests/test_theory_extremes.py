"""The theory at its extremes: zero inputs, variances up to 10⁶ and past float64, depth 3,000 in
both phases, duplicated and negated inputs, any dtype, NumPy and 0-d σ's. Each against an
oracle: continuity at zero, the closed forms through the quadrature engine, the plain layer-by-
layer recursion, the variance's own closed-form growth, the float64 call with the same values."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

import actlab
from actlab.theory import VarianceOverflowError, c_map, q_map
from actlab.theory._gauss import CLOSED_FORMS, pair_expectations, second_moments

NAMES = [n for n in actlab.activations.names()]
X = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("name", NAMES)
def test_a_zero_input_without_bias_is_the_limit_of_small_inputs(name):
    """A zero row with σ_b² = 0 has variance 0: its kernel is the limit of rows shrinking to it."""
    zero = torch.cat([torch.zeros(1, 3, dtype=torch.float64), X])
    small = torch.cat([1e-9 * X[:1], X])
    for kernel in (actlab.nngp, actlab.ntk):
        k0, ks = kernel(name, zero, depth=3, sigma_b2=0.0), kernel(name, small, depth=3, sigma_b2=0.0)
        assert torch.isfinite(k0).all(), (name, kernel.__name__)
        torch.testing.assert_close(k0, ks, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["gaussian", "relu", "abs", "leaky_relu", "square"])
def test_variances_up_to_1e6_through_the_quadrature_engine_equal_the_closed_forms(name):
    """At q = 10⁶ a sharp activation changes over 10⁻³ of the rule's range: graded panels there."""
    q = torch.tensor([1e6, 3e5, 1e6], dtype=torch.float64)
    k = torch.tensor([[1e6, 0.9 * math.sqrt(3e11), -0.3e6], [0.5 * math.sqrt(3e11), 3e5, 0.0], [0.999e6, -0.2 * math.sqrt(3e11), 1e6]],
                     dtype=torch.float64)
    e, d = pair_expectations(name, q, q, k, method="quadrature")
    e_ref, d_ref = pair_expectations(name, q, q, k, method="auto")
    scale_e = torch.sqrt(torch.outer(*(second_moments(name, q)[0],) * 2))
    scale_d = torch.sqrt(torch.outer(*(second_moments(name, q)[1],) * 2))
    assert ((e - e_ref).abs() <= 1e-6 * scale_e).all(), (e, e_ref)
    assert ((d - d_ref).abs() <= 1e-6 * scale_d).all(), (d, d_ref)


@pytest.mark.parametrize("name", NAMES)
def test_every_kernel_is_finite_at_variance_1e6(name):
    big = 1000.0 * X  # q ≈ 10⁶
    for kernel in (actlab.nngp, actlab.ntk):
        k = kernel(name, big, depth=1)
        assert torch.isfinite(k).all(), (name, kernel.__name__)


def test_sin_at_large_variance_is_its_closed_form_without_overflow():
    """e^{−(q₁+q₂)/2} sinh k₁₂ overflowed past q ≈ 710 as a product; as halves of e^{±k−h} it is exact."""
    q = torch.tensor([1600.0, 1e6], dtype=torch.float64)
    k = torch.tensor([[1600.0, 0.5 * 4e4], [0.5 * 4e4, 1e6]], dtype=torch.float64)
    e, d = pair_expectations("sin", q, q, k)
    assert torch.isfinite(e).all() and torch.isfinite(d).all()
    # the same input: (1 − e^{−2q})/2 and (1 + e^{−2q})/2; different ones: e^{k−h}/2 underflows to 0 here
    torch.testing.assert_close(e.diagonal(), torch.tensor([0.5, 0.5], dtype=torch.float64))
    assert e[0, 1] == 0.0 and d[0, 1] == 0.0


def _plain_recursion(name, x, depth, w2, b2):
    """The NNGP/NTK layer by layer with no shortcut: the oracle of the fixed-point skip."""
    d = x.shape[1]
    q = w2 * (x * x).sum(1) / d + b2
    k = (w2 * (x @ x.T) / d + b2).fill_diagonal_(0.0) + torch.diag(q)  # an input with itself: its variance
    theta = k.clone()
    for _ in range(depth):
        e, dd = pair_expectations(name, q, q, k)
        q = w2 * second_moments(name, q)[0] + b2
        k_next = (w2 * e + b2).fill_diagonal_(0.0) + torch.diag(q)
        theta = k_next + w2 * dd * theta
        k = k_next
    return k, theta


@pytest.mark.parametrize("name, w2, b2", [("tanh", 0.5, 0.05), ("tanh", 1.5, 0.05), ("relu", 1.9, 0.1), ("sigmoid", 3.0, 0.1)])
def test_skipping_the_fixed_points_layers_equals_the_plain_recursion(name, w2, b2):
    k, theta = _plain_recursion(name, X, 300, w2, b2)
    torch.testing.assert_close(actlab.nngp(name, X, depth=300, sigma_w2=w2, sigma_b2=b2), k, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(actlab.ntk(name, X, depth=300, sigma_w2=w2, sigma_b2=b2), theta, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("name, w2, b2", [("tanh", 0.5, 0.05), ("tanh", 4.0, 0.05), ("relu", 1.5, 0.1), ("sigmoid", 2.0, 0.1),
                                          ("hardtanh", 3.0, 0.05), ("softplus", 0.5, 0.2)])
def test_depth_3000_in_both_phases_is_finite_or_names_where_it_leaves_float64(name, w2, b2):
    x = torch.cat([X, X[:1], -X[1:2]])  # a duplicated input (correlation 1) and a negated one
    k = actlab.nngp(name, x, depth=3000, sigma_w2=w2, sigma_b2=b2)
    assert torch.isfinite(k).all()
    torch.testing.assert_close(k, k.T)
    assert torch.equal(k[0], k[6])  # the duplicate: the same numbers, to the last bit
    chi1 = actlab.signal(name, w2, b2).chi1
    if chi1 < 1:  # ordered: every perturbation of Θ dies, Θ converges
        assert torch.isfinite(actlab.ntk(name, x, depth=3000, sigma_w2=w2, sigma_b2=b2)).all()
    else:  # chaotic: Θ grows as χ₁^l, past float64 after about 709/ln χ₁ layers
        with pytest.raises(VarianceOverflowError, match=r"the NTK of input \d+ of x1 leaves float64 at layer (\d+) of depth 3000") as e:
            actlab.ntk(name, x, depth=3000, sigma_w2=w2, sigma_b2=b2)
        layer = int(e.value.args[0].split("at layer ")[1].split()[0])
        assert abs(layer - math.log(sys.float_info.max) / math.log(chi1)) < 0.05 * layer


@pytest.mark.parametrize("name, w2, growth", [("relu", 3.0, 1.5), ("linear", 2.0, 2.0), ("abs", 2.5, 2.5)])
def test_a_variance_that_grows_past_float64_is_named_with_its_layer(name, w2, growth):
    """q_l = q₀·g^l exactly for positively homogeneous φ: it leaves float64 where q₀·g^l > max."""
    x = torch.ones(2, 4, dtype=torch.float64)  # q₀ = σ_w²
    with pytest.raises(VarianceOverflowError, match=r"the variance of input 0 of x1 leaves float64 at layer (\d+) of depth 3000") as e:
        actlab.nngp(name, x, depth=3000, sigma_w2=w2)
    layer = int(e.value.args[0].split("at layer ")[1].split()[0])
    expected = math.log(sys.float_info.max / w2) / math.log(growth)
    assert abs(layer - expected) <= 1.0 and f"({name}, σ_w² = {w2:g})" in e.value.args[0]


def test_float32_inputs_and_numpy_or_0d_sigmas_give_the_float64_answer():
    ref = actlab.ntk("tanh", X.float().double(), depth=4, sigma_w2=1.5, sigma_b2=0.1)
    for w2 in (np.float32(1.5), np.float64(1.5), torch.tensor(1.5), np.array(1.5), 1.5):
        for b2 in (np.float32(0.1), torch.tensor(0.1, dtype=torch.float64), 0.1):
            got = actlab.ntk("tanh", X.float(), depth=np.int64(4), sigma_w2=w2, sigma_b2=b2)
            assert got.dtype == torch.float64
            torch.testing.assert_close(got, actlab.ntk("tanh", X.float().double(), depth=4, sigma_w2=float(w2), sigma_b2=float(b2)),
                                       rtol=0, atol=0)
    torch.testing.assert_close(actlab.ntk("tanh", X.float().numpy(), depth=4, sigma_w2=1.5, sigma_b2=0.1), ref, rtol=0, atol=0)
    s = actlab.signal("tanh", np.float32(1.5), torch.tensor(0.05))
    assert s == actlab.signal("tanh", float(np.float32(1.5)), float(torch.tensor(0.05)))
    torch.testing.assert_close(q_map("tanh", np.array([0.5, 2.0]), np.float64(1.5)), q_map("tanh", [0.5, 2.0], 1.5))
    torch.testing.assert_close(c_map("tanh", [0.2, 0.9], 1.3, 2.0, 0.1), torch.cat([c_map("tanh", [c], 1.3, 2.0, 0.1) for c in (0.2, 0.9)]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (the result goes back to the caller's device)")
def test_inputs_on_the_gpu_come_back_on_the_gpu():
    x = X.cuda()
    for kernel in (actlab.nngp, actlab.ntk):
        k = kernel("tanh", x, depth=2)
        assert k.device == x.device
        torch.testing.assert_close(k.cpu(), kernel("tanh", X, depth=2))


@pytest.mark.parametrize("kwargs, message", [
    ({"sigma_w2": True}, "sigma_w2: expected a finite weight variance > 0 (a real number), got True"),
    ({"sigma_w2": "2"}, "sigma_w2: expected a finite weight variance > 0"),
    ({"sigma_w2": float("nan")}, "sigma_w2: expected a finite weight variance > 0"),
    ({"sigma_w2": np.array([1.0, 2.0])}, "sigma_w2: expected a finite weight variance > 0"),
    ({"sigma_b2": -0.1}, "sigma_b2: expected a finite bias variance ≥ 0"),
    ({"sigma_b2": float("inf")}, "sigma_b2: expected a finite bias variance ≥ 0"),
    ({"depth": 2.0}, "depth: expected the number of hidden layers, an int ≥ 0, got 2.0"),
    ({"depth": True}, "depth: expected the number of hidden layers"),
])
def test_one_argument_check_for_kernels_and_signal(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        actlab.nngp("tanh", X, **kwargs)
    if "depth" not in kwargs:
        w2, b2 = kwargs.get("sigma_w2", 1.0), kwargs.get("sigma_b2", 0.0)
        with pytest.raises(ValueError, match=message.split(" (")[0].split(",")[0]):
            actlab.signal("tanh", w2, b2)


def test_complex_inputs_are_refused():
    with pytest.raises(ValueError, match="x1: expected real inputs, got dtype torch.complex64"):
        actlab.nngp("tanh", torch.ones(2, 2, dtype=torch.complex64))


def test_closed_forms_stay_finite_where_the_product_of_variances_overflows():
    """√(q₁q₂) as √q₁·√q₂: variances of 1e200 keep their correlation (the product is inf)."""
    q = torch.tensor([1e200, 1e200], dtype=torch.float64)
    k = torch.tensor([[1e200, 0.5e200], [0.5e200, 1e200]], dtype=torch.float64)
    for name in ("relu", "abs", "leaky_relu"):
        e, d = CLOSED_FORMS[name](q[:, None], q[None, :], k)
        assert torch.isfinite(e).all() and torch.isfinite(d).all()
        torch.testing.assert_close(d[0, 1], CLOSED_FORMS[name](*torch.tensor([1.0, 1.0, 0.5], dtype=torch.float64))[1])
