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
correlations are clipped to [−1, 1], so no depth makes a NaN.
"""

from __future__ import annotations

from typing import Any

import torch

from ._gauss import check_elementwise, pair_expectations, second_moments

__all__ = ["nngp", "ntk", "check_kernel_args"]


def _check_inputs(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    t1 = torch.as_tensor(x1, dtype=torch.float64)
    if t1.ndim != 2 or t1.shape[1] == 0:
        raise ValueError(f"x1: expected a batch of inputs (n1, d) with d ≥ 1, got shape {tuple(t1.shape)}")
    if not bool(torch.isfinite(t1).all()):
        raise ValueError("x1: expected finite inputs, got NaN or infinity")
    if x2 is None:
        return t1, None
    t2 = torch.as_tensor(x2, dtype=torch.float64)
    if t2.ndim != 2 or t2.shape[1] != t1.shape[1]:
        raise ValueError(f"x2: expected (n2, {t1.shape[1]}) like x1's inputs, got shape {tuple(t2.shape)}")
    if not bool(torch.isfinite(t2).all()):
        raise ValueError("x2: expected finite inputs, got NaN or infinity")
    return t1, t2


def check_kernel_args(activation: str, depth: int, sigma_w2: float, sigma_b2: float) -> str:
    """The canonical activation name; ValueError naming what was expected and what arrived."""
    name = check_elementwise(activation)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"depth: expected the number of hidden layers, an int ≥ 0, got {depth!r}")
    if not (isinstance(sigma_w2, (int, float)) and sigma_w2 > 0 and sigma_w2 < float("inf")):
        raise ValueError(f"sigma_w2: expected a finite weight variance > 0, got {sigma_w2!r}")
    if not (isinstance(sigma_b2, (int, float)) and 0 <= sigma_b2 < float("inf")):
        raise ValueError(f"sigma_b2: expected a finite bias variance ≥ 0, got {sigma_b2!r}")
    return name


def _recursion(activation, x1, x2, depth, sigma_w2, sigma_b2, with_ntk: bool, method: str):
    name = check_kernel_args(activation, depth, sigma_w2, sigma_b2)
    a, b = _check_inputs(x1, x2)
    d = a.shape[1]
    same = b is None
    b = a if same else b
    q1 = sigma_w2 * (a * a).sum(1) / d + sigma_b2  # (n1,): each input's variance rides along
    q2 = q1 if same else sigma_w2 * (b * b).sum(1) / d + sigma_b2  # (n2,)
    k = sigma_w2 * (a @ b.T) / d + sigma_b2  # (n1, n2)
    theta = k.clone() if with_ntk else None
    for _ in range(depth):
        e, dd = pair_expectations(name, q1, q2, k, want_deriv=with_ntk, method=method)
        k_next = sigma_w2 * e + sigma_b2
        if with_ntk:
            theta = k_next + sigma_w2 * dd * theta
        q1_next = sigma_w2 * second_moments(name, q1, method)[0] + sigma_b2
        q2 = q1_next if same else sigma_w2 * second_moments(name, q2, method)[0] + sigma_b2
        q1, k = q1_next, k_next
    return k, theta


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
