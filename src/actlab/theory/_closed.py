"""Closed forms of E[φ(u)φ(v)] and E[φ′(u)φ′(v)], (u, v) ~ N(0, Σ), where they exist.

Each takes the pair's variances k₁₁, k₂₂ and covariance k₁₂ (broadcastable tensors, float64)
and returns both expectations. With c = k₁₂/√(k₁₁k₂₂) clipped to [−1, 1], θ = arccos c:
- linear:     E[φφ] = k₁₂,  E[φ′φ′] = 1
- relu:       √(q₁q₂)(sin θ + (π − θ) cos θ)/2π,  (π − θ)/2π            (Cho & Saul 2009)
- leaky_relu: φ = a·x + (1 − a)·relu(x):  a·k₁₂ + (1 − a)²·E_relu,  a + (1 − a)²(π − θ)/2π
- abs:        the same with a = −1
- sin:        e^{−(q₁+q₂)/2} sinh k₁₂,  e^{−(q₁+q₂)/2} cosh k₁₂   (as halves of e^{±k₁₂−(q₁+q₂)/2})
- square:     q₁q₂ + 2k₁₂²,  4k₁₂
- gaussian:   φ = e^{−x²}: 1/√D,  4k₁₂/D^{3/2},  D = (1 + 2q₁)(1 + 2q₂) − 4k₁₂²
- erf:        (2/π) arcsin(2k₁₂/√E),  (4/π)/√(E − 4k₁₂²),  E = (1 + 2q₁)(1 + 2q₂)    (Williams 1997)
- gelu:       φ = xΦ(x): with P = q₁q₂, P₊ = (1 + q₁)(1 + q₂), Δ = √(P₊ − k₁₂²), α = atan2(k₁₂, Δ):
              k₁₂/4 + (k₁₂α + (k₁₂² + PΔ²)/(P₊Δ))/2π,
              1/4 + α/2π + k₁₂(1/Δ² + (1 − P)/P₊ + 1)/(2πΔ)          (Tsuchida et al. 2021)
"""

from __future__ import annotations

import math

import torch

from ._pieces import LEAKY_SLOPE

__all__ = ["CLOSED_FORMS", "correlation"]


def correlation(k11, k22, k12):
    """√(k₁₁k₂₂) and the correlation, clipped to [−1, 1] (0 where a variance is 0)."""
    s = torch.sqrt(k11) * torch.sqrt(k22)  # not √(k₁₁k₂₂): that product overflows from variances of 1e154 on
    c = torch.where((k12 == k11) & (k11 == k22), 1.0, k12 / s)  # an input with itself: 1 exactly, whatever √q·√q rounds to
    if not bool((s > 0).all()):
        c = torch.where(s > 0, c, 0.0)
    return s, c.clamp_(-1.0, 1.0)


def _relu(k11, k22, k12):
    s, c = correlation(k11, k22, k12)
    d = torch.arccos(c).neg_().add_(math.pi).div_(2 * math.pi)  # (π − θ)/2π
    e = torch.addcmul((1 - c * c).clamp_min_(0.0).sqrt_().div_(2 * math.pi), d, c).mul_(s)  # sin θ = √(1 − c²)
    return e, d


def _leaky(a: float):
    def closed(k11, k22, k12):
        e, d = _relu(k11, k22, k12)
        return a * k12 + (1 - a) ** 2 * e, a + (1 - a) ** 2 * d

    return closed


def _sin(k11, k22, k12):
    # e^{−h}·sinh k and e^{−h}·cosh k, h = (q₁+q₂)/2 ≥ |k|, as halves of e^{±k−h}: no exponent above 0
    h = (k11 + k22) / 2
    up, down = torch.exp(k12 - h), torch.exp(-k12 - h)
    return (up - down) / 2, (up + down) / 2


def _gaussian(k11, k22, k12):
    s, c = correlation(k11, k22, k12)
    det = (1 + 2 * k11) * (1 + 2 * k22) - 4 * (s * c) ** 2  # ≥ 1 + 2(q₁ + q₂) > 0 for |c| ≤ 1
    return det.rsqrt(), 4 * s * c * det.pow(-1.5)


def _erf(k11, k22, k12):
    e1, e2 = 1 + 2 * k11, 1 + 2 * k22
    root = torch.sqrt(e1) * torch.sqrt(e2)  # √E without overflowing the product
    ratio = (2 * k12 / root).clamp_(-1.0, 1.0)
    # E − 4k₁₂² ≥ 1 + 2(q₁ + q₂) for |c| ≤ 1: no pair divides by 0
    rest = (e1 * e2 - 4 * k12 * k12).clamp_min(1.0)
    return torch.arcsin(ratio) * (2 / math.pi), rest.rsqrt() * (4 / math.pi)


def _gelu(k11, k22, k12):
    # with u = 1/(1 + q), r = q/(1 + q) = 1 − u: 1/P₊ = u₁u₂, P/P₊ = r₁r₂, (1 − P)/P₊ = u₁ + u₂ − 1 —
    # per-input factors broadcast over the grid, never grids of their own
    c = 1 / (2 * math.pi)
    u1, u2 = 1 / (1 + k11), 1 / (1 + k22)
    delta2 = ((1 + k11) * (1 + k22)).addcmul_(k12, k12, value=-1).clamp_min_(1.0)  # Δ² ≥ 1 + q₁ + q₂ for |c| ≤ 1
    delta = delta2.sqrt()
    d = torch.atan2(k12, delta).mul_(c).add_(0.25)  # 1/4 + α/2π
    over = k12 / delta
    e = k12 * d  # k₁₂/4 + k₁₂α/2π
    e.addcmul_(over.mul(k12).mul_(u1 * c), u2).addcmul_(delta.mul_(k11 * u1 * c), k22 * u2)
    d.addcmul_(over, delta2.reciprocal_().add_(u1).add_(u2), value=c)
    return e, d


CLOSED_FORMS = {
    "linear": lambda k11, k22, k12: (k12, torch.ones_like(k12)),
    "relu": _relu,
    "leaky_relu": _leaky(LEAKY_SLOPE),
    "abs": _leaky(-1.0),
    "sin": _sin,
    "square": lambda k11, k22, k12: (k11 * k22 + 2 * k12**2, 4 * k12),
    "gaussian": _gaussian,
    "erf": _erf,
    "gelu": _gelu,
}
