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
from ._gauss import pair_expectations, second_moments

__all__ = ["nngp", "ntk", "VarianceOverflowError"]


def _overflow(what: str, values: torch.Tensor, layer: int, depth: int, name: str, sigma_w2: float, rows: str) -> None:
    """Raise naming the first input whose ``values`` (its row) left float64 at ``layer``."""
    bad = ~torch.isfinite(values)
    i = int(bad.reshape(bad.shape[0], -1).any(1).nonzero()[0, 0])
    raise VarianceOverflowError(
        f"{what} of input {i} of {rows} leaves float64 at layer {layer} of depth {depth} ({name}, σ_w² = {sigma_w2:g}): "
        "it grows geometrically with depth in this phase; ask for fewer layers or a smaller sigma_w2")


def _finite(t: torch.Tensor) -> bool:
    """No inf or NaN in ``t``, in one pass (NaN and ±inf reach the extremes)."""
    lo, hi = torch.aminmax(t)
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


def _check_finite(layer, depth, name, sigma_w2, q1, q2, k, theta, same) -> None:
    for what, t, rows in (("the variance", q1, "x1"), ("the variance", q2, "x2"), ("the kernel", k, "x1"),
                          ("the NTK", theta, "x1")):
        if t is not None and t.numel() and not _finite(t):
            _overflow(what, t, layer, depth, name, sigma_w2, "x1" if same else rows)


def _twins(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The index pairs (i, j) with a[i] equal to b[j] in every coordinate (the diagonal, when b is a)."""
    rows = max(1, (1 << 24) // max(1, b.shape[0] * b.shape[1]))
    hits = [(a[i:i + rows, None, :] == b[None, :, :]).all(-1).nonzero() for i in range(0, a.shape[0], rows)]
    idx = torch.cat([h + torch.tensor([i * rows, 0]) for i, h in enumerate(hits)]) if hits else torch.zeros(0, 2, dtype=torch.int64)
    return idx[:, 0], idx[:, 1]


def _recursion(activation, x1, x2, depth, sigma_w2, sigma_b2, with_ntk: bool, method: str):
    """(Σ^depth, Θ^depth or None) on the caller's device. Once the layer map reaches its fixed point
    (q, k unchanged to the last bit) every later Σ is the same, and Θ needs only its elementwise
    update: deep nets in either phase cost what their approach to the fixed point costs."""
    name, depth, sigma_w2, sigma_b2 = check_args(activation, depth, sigma_w2, sigma_b2)
    a, b, device = check_inputs(x1, x2)
    d = a.shape[1]
    same = b is None
    b = a if same else b
    q1 = sigma_w2 * (a * a).sum(1) / d + sigma_b2  # (n1,): each input's variance rides along
    q2 = q1 if same else sigma_w2 * (b * b).sum(1) / d + sigma_b2  # (n2,)
    k = sigma_w2 * (a @ b.T) / d + sigma_b2  # (n1, n2)
    ti, tj = _twins(a, b)
    k[ti, tj] = q1[ti]  # a pair of equal inputs has correlation 1 exactly, at every layer: its own variance
    theta = k.clone() if with_ntk else None
    _check_finite(0, depth, name, sigma_w2, q1, q2, k, theta, same)
    chi = None
    for layer in range(1, depth + 1):
        e, dd = pair_expectations(name, q1, q2, k, want_deriv=with_ntk, method=method)
        k_next = sigma_w2 * e + sigma_b2
        q1_next = sigma_w2 * second_moments(name, q1, method)[0] + sigma_b2
        q2_next = q1_next if same else sigma_w2 * second_moments(name, q2, method)[0] + sigma_b2
        # rounding must not move a pair of equal inputs off correlation 1: in the chaotic phase c = 1 is
        # unstable, and a last-bit difference would grow until the kernel's diagonal forgot its variance
        k_next[ti, tj] = q1_next[ti]
        if with_ntk:
            chi = sigma_w2 * dd
            theta = k_next + chi * theta
        fixed = torch.equal(k_next, k) and torch.equal(q1_next, q1) and torch.equal(q2_next, q2)
        q1, q2, k = q1_next, q2_next, k_next
        _check_finite(layer, depth, name, sigma_w2, q1, q2, k, theta, same)
        if fixed:  # Σ stays k from here on; Θ^(l+1) = Σ + χ Θ^l with χ fixed too
            for rest in range(layer + 1, depth + 1) if with_ntk else ():
                theta = k + chi * theta
                if not _finite(theta):
                    _overflow("the NTK", theta, rest, depth, name, sigma_w2, "x1")
            break
    return k.to(device), (theta.to(device) if with_ntk else None)


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
