"""Gaussian expectations of an activation: E[φ(u)φ(v)] and E[φ′(u)φ′(v)], (u, v) ~ N(0, Σ).

The one engine of actlab's infinite-width theory, in three parts: closed forms where they exist
(``_closed``: quadrature is poor at kinks), Mehler's Hermite series elsewhere (``_hermite``),
and direct rules for the pairs the series cannot bound (``_direct``). A pair has variances q₁,
q₂ and correlation c = k₁₂/√(q₁q₂), clipped to [−1, 1] (rounding must not make a NaN at depth
100). Two layouts: ``pair_expectations`` on the grid of every x1 against every x2 (the dense
kernels), ``flat_expectations`` on pairs given elementwise (the spatial and recurrent kernels,
whose pairs of positions are not a grid). Float64 throughout.
"""

from __future__ import annotations

import torch

from .. import activations
from ..activations import MAXOUT
from ._closed import CLOSED_FORMS, correlation
from ._direct import fill_direct, fill_flat
from ._hermite import Q_FLOOR, TOL, Moments, moments, moments_adaptive, panels, piecewise_moments, series, series_broadcast
from ._pieces import KINKS, polynomial

__all__ = ["CLOSED_FORMS", "KINKS", "TOL", "Moments", "check_elementwise", "moments", "pair_expectations", "flat_expectations",
           "second_moments"]


def check_elementwise(activation: str) -> str:
    """The registry's canonical name; ValueError for maxout, which is not elementwise."""
    if activation == MAXOUT:
        raise ValueError("maxout is not elementwise (a max over k affine pieces of the whole input): the infinite-width "
                         f"theory needs φ applied to each unit alone; choose one of {', '.join(activations.names())}")
    return activations.resolve(activation)


def second_moments(name: str, q: torch.Tensor, method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """(E[φ(√q z)²], E[φ′(√q z)²]) for each variance in q (n,): the closed form where there is one
    (``method`` "auto"), else the two-term ``moments`` by the cheapest exact route."""
    if method == "auto" and name in CLOSED_FORMS:
        e, d = CLOSED_FORMS[name](q, q, q)
        return e, d.expand_as(e)
    q = q.clamp_min(Q_FLOOR)
    if polynomial(name):
        m = piecewise_moments(name, q, True, k=2)
        return m.second, m.second_d
    # the rule's panel follows the largest variance: variances of one panel width (a power of 2) share a rule,
    # so that a grid over many decades does not evaluate its small variances on the largest one's fine panels
    e, d = torch.empty_like(q), torch.empty_like(q)
    group = torch.ceil(torch.log2(1.0 / panels(q, 2)))
    for key in torch.unique(group):
        sel = group == key
        m = moments(name, q[sel], want_deriv=True, k=2)
        e[sel], d[sel] = m.second, m.second_d
    return e, d


def pair_expectations(activation: str, q1: torch.Tensor, q2: torch.Tensor, k12: torch.Tensor, *,
                      want_deriv: bool = True, method: str = "auto"):
    """(E[φ(u)φ(v)], E[φ′(u)φ′(v)] or None) on the grid of pairs (n1, n2), where u has variance
    q1[i], v has q2[j] and their covariance is k12[i, j]; float64. ``method``: "auto" (closed
    form where there is one) or "quadrature" (always the series and rule, to test closed forms)."""
    name = check_elementwise(activation)
    q1, q2, k12 = (torch.as_tensor(t, dtype=torch.float64) for t in (q1, q2, k12))
    if method not in ("auto", "quadrature"):
        raise ValueError(f"method: expected 'auto' or 'quadrature', got {method!r}")
    if method == "auto" and name in CLOSED_FORMS:
        e, d = CLOSED_FORMS[name](q1[:, None], q2[None, :], k12)
        return e, (d.expand_as(e).clone() if want_deriv else None)
    c = correlation(q1[:, None], q2[None, :], k12)[1]
    m1 = moments_adaptive(name, q1, want_deriv)
    m2 = m1 if q2 is q1 or torch.equal(q1, q2) else moments_adaptive(name, q2, want_deriv)
    (t1, td1), (t2, td2) = m1.tails(), m2.tails()
    e, bad_e = series(m1.a, m2.a, t1, t2, m1.second, m2.second, c, q1, q2)
    d, bad_d = series(m1.ad, m2.ad, td1, td2, m1.second_d, m2.second_d, c, q1, q2) if want_deriv else (None, None)
    fill_direct(name, q1, q2, c, e, bad_e, d, bad_d)
    return e, d


def _own(t: torch.Tensor, shape, k12: torch.Tensor) -> torch.Tensor:
    """``t`` as a tensor of ``shape`` the caller may write: copied only where it is broadcast or is k12 itself."""
    if t.shape == shape and t.is_contiguous() and t.data_ptr() != k12.data_ptr():
        return t
    return t.expand(shape).clone()


def flat_expectations(activation: str, q1: torch.Tensor, q2: torch.Tensor, k12: torch.Tensor, *,
                      want_deriv: bool = True, method: str = "auto"):
    """``pair_expectations`` for pairs given elementwise: q1, q2 and k12 broadcast to k12's shape,
    pair p having variances q1[p], q2[p] and covariance k12[p]. The coefficients of the series are
    computed once per distinct variance (q1 and q2 are small tensors broadcast over many pairs)."""
    name = check_elementwise(activation)
    q1, q2, k12 = (torch.as_tensor(t, dtype=torch.float64) for t in (q1, q2, k12))
    shape = k12.shape
    if method == "auto" and name in CLOSED_FORMS:
        e, d = CLOSED_FORMS[name](q1, q2, k12)
        return _own(e, shape, k12), (_own(d, shape, k12) if want_deriv else None)
    q1, q2 = q1.clamp_min(Q_FLOOR), q2.clamp_min(Q_FLOOR)
    qs, inverse = torch.unique(torch.cat([q1.reshape(-1), q2.reshape(-1)]), return_inverse=True)
    i1, i2 = inverse[:q1.numel()], inverse[q1.numel():]
    m = moments_adaptive(name, qs, want_deriv)
    c = correlation(q1, q2, k12)[1]
    same = (c == 1.0) & (q1 == q2)
    i1, i2 = i1.reshape(q1.shape), i2.reshape(q2.shape)
    e, bad_e = series_broadcast(m.a, m.tails()[0], m.second, i1, i2, c, same)
    d, bad_d = series_broadcast(m.ad, m.tails()[1], m.second_d, i1, i2, c, same) if want_deriv else (None, None)
    union = bad_e if d is None else bad_e | bad_d
    if bool(union.any()):
        fe, fd = e[union], (None if d is None else d[union])
        fill_flat(name, q1.expand(shape)[union], q2.expand(shape)[union], c[union], fe, bad_e[union], fd,
                  None if d is None else bad_d[union])
        e[union] = fe
        if d is not None:
            d[union] = fd
    return e, d
