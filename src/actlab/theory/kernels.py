"""The kernels of infinitely wide networks: NNGP (Neal 1996; Lee et al. 2018) and NTK (Jacot et
al. 2018), for every elementwise activation of the registry.

A network with ``depth`` hidden layers of width n → ∞, weights of variance σ_w²/fan_in and
biases of variance σ_b², is at initialisation a Gaussian process over its readout's
pre-activations, with covariance Σ (the NNGP kernel); trained by gradient descent in the NTK
parameterisation, it moves as kernel regression with Θ (the NTK). On inputs x, x′ of dimension d:

    Σ⁰ = σ_w² x·x′/d + σ_b²                                    (the first layer's pre-activations)
    Σ^(l+1) = σ_w² E[φ(u)φ(v)] + σ_b²,   (u, v) ~ N(0, Σ^l on the pair)
    Θ⁰ = Σ⁰,   Θ^(l+1) = Σ^(l+1) + σ_w² E[φ′(u)φ′(v)] Θ^l

and the kernel returned is Σ^depth (Θ^depth); ``depth`` = 0 is the linear model
σ_w² x·x′/d + σ_b². With the linear activation every layer stays linear in x·x′: an infinitely
wide linear network is Bayesian linear regression, a kernel of rank ≤ d + 1 — the article's
"a linear model" for the whole distribution of trained functions. The expectations come from
``_gauss`` (closed forms where they exist, Hermite series and Gauss–Legendre rules elsewhere);
correlations are clipped to [−1, 1], so no depth makes a NaN, and a variance that leaves
float64 with depth (a net whose signal grows without bound) raises ``VarianceOverflowError``
naming the input and the layer.
"""

from __future__ import annotations

from typing import Any

import torch

from ._checks import VarianceOverflowError, check_args, check_inputs
from ._closed import CLOSED_FORMS
from ._layers import activation as activation_layer
from ._layers import dense_expectations, weight_layer
from ._state import Cov, input_state, pack, unpack

__all__ = ["nngp", "ntk", "VarianceOverflowError"]


def _overflow(what: str, values: torch.Tensor, layer: int, depth: int, name: str, sigma_w2: float, rows: str,
              pairs: tuple | None = None) -> None:
    """Raise naming the first input whose ``values`` (its row; packed ``pairs``: its pair's row)
    left float64 at ``layer``."""
    bad = ~torch.isfinite(values)
    i = int(bad.reshape(bad.shape[0], -1).any(1).nonzero()[0, 0])
    if pairs is not None and values.ndim == 1 and len(values) == len(pairs[0]):
        i = int(pairs[0][i])
    raise VarianceOverflowError(
        f"{what} of input {i} of {rows} leaves float64 at layer {layer} of depth {depth} ({name}, σ_w² = {sigma_w2:g}): "
        "it grows geometrically with depth in this phase; ask for fewer layers or a smaller sigma_w2")


def _finite(t: torch.Tensor) -> bool:
    """No inf or NaN in ``t``, in one pass (NaN and ±inf reach the extremes)."""
    lo, hi = torch.aminmax(t)
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


def _check_finite(layer, depth, name, sigma_w2, state: Cov, same: bool) -> None:
    """The variances and the NTK at ``layer``: the kernel is bounded by the variances, |k₁₂| ≤ √(q₁q₂)."""
    for what, t, rows in (("the variance", state.self1, "x1"), ("the variance", state.self2, "x2"), ("the NTK", state.ntk, "x1")):
        if t is not None and t.numel() and not _finite(t):
            _overflow(what, t, layer, depth, name, sigma_w2, "x1" if same else rows, state.pairs)


def _at_fixed_point(state: Cov, name, depth, layer, sigma_w2, method) -> torch.Tensor:
    """Θ^depth from Θ^layer once Σ is at its fixed point: Θ^(l+1) = Σ + σ_w² E[φ′φ′] Θ^l, E[φ′φ′] fixed too."""
    chi = dense_expectations(state, name, True, method)[1]
    theta = state.ntk
    for rest in range(layer + 1, depth + 1):
        theta = torch.addcmul(state.cross, chi, theta, value=sigma_w2)
        if not _finite(theta):
            _overflow("the NTK", theta, rest, depth, name, sigma_w2, "x1", state.pairs)
    return theta


def _recursion(activation, x1, x2, depth, sigma_w2, sigma_b2, with_ntk: bool, method: str):
    """(Σ^depth, Θ^depth or None) on the caller's device, by the layers of ``actlab.kernel``
    (``_layers``) on a dense stack. Once the layer map reaches its fixed point (Σ unchanged to
    the last bit) every later Σ is the same, and Θ needs only its elementwise update: deep nets
    in either phase cost what their approach to the fixed point costs."""
    name, depth, sigma_w2, sigma_b2 = check_args(activation, depth, sigma_w2, sigma_b2)
    a, b, device = check_inputs(x1, x2)
    same = b is None
    state = input_state(a, b, "dense", ())
    if same and method == "auto" and name in CLOSED_FORMS:  # elementwise layers: the upper triangle is enough
        state = pack(state)
    state = weight_layer(state, sigma_w2, sigma_b2, None, (), 0)
    if not with_ntk:
        state.ntk = None
    _check_finite(0, depth, name, sigma_w2, state, same)
    for layer in range(1, depth + 1):
        nxt = weight_layer(activation_layer(state, name, method), sigma_w2, sigma_b2, None, (), layer)
        if not with_ntk:
            nxt.ntk = None
        fixed = torch.equal(nxt.self1, state.self1) and (same or torch.equal(nxt.self2, state.self2)) and torch.equal(
            nxt.cross, state.cross)  # the variances first: the grid is compared only once they are fixed
        _check_finite(layer, depth, name, sigma_w2, nxt, same)
        if fixed and with_ntk:
            nxt.ntk = _at_fixed_point(nxt, name, depth, layer, sigma_w2, method)
        state = nxt
        if fixed:
            break
    full = (lambda t: t) if state.pairs is None else (lambda t: unpack(t, state.pairs, len(a)))  # noqa: E731
    return full(state.cross).to(device), (full(state.ntk).to(device) if with_ntk else None)


def nngp(activation: str, x1: Any, x2: Any = None, *, depth: int = 1, sigma_w2: float = 1.0, sigma_b2: float = 0.0,
         method: str = "auto") -> torch.Tensor:
    """The NNGP kernel Σ^depth (n1, n2), float64, of a net with ``depth`` hidden layers of
    ``activation``, weights of variance σ_w²/fan_in and biases of variance σ_b²:

        Σ⁰ = σ_w² x·x′/d + σ_b²,   Σ^(l+1) = σ_w² E[φ(u)φ(v)] + σ_b²,  (u, v) ~ N(0, Σ^l)

    ``x2`` None: x1 against itself. ``method`` "quadrature" skips the closed forms (for tests)."""
    return _recursion(activation, x1, x2, depth, sigma_w2, sigma_b2, False, method)[0]


def ntk(activation: str, x1: Any, x2: Any = None, *, depth: int = 1, sigma_w2: float = 1.0, sigma_b2: float = 0.0,
        method: str = "auto") -> torch.Tensor:
    """The neural tangent kernel Θ^depth (n1, n2), float64, NTK parameterisation; same arguments
    as ``nngp``:

        Θ⁰ = Σ⁰,   Θ^(l+1) = Σ^(l+1) + σ_w² E[φ′(u)φ′(v)] Θ^l."""
    return _recursion(activation, x1, x2, depth, sigma_w2, sigma_b2, True, method)[1]
