"""The direct rules: Gaussian expectations of a pair integrated numerically, for the pairs
Mehler's series cannot bound (sharp activations at large variance, correlations near ±1 with a
kink). In one dimension for the piecewise activations (``PIECES``: the inner expectation in
closed form), in two for the others; float64, in chunks of bounded memory.
"""

from __future__ import annotations

import math

import torch

from .. import activations
from ..activations import act_and_deriv
from ._pieces import KINKS, PIECES
from ._rules import HALF_WIDTH, graded, normal_rule

__all__ = ["fill_direct", "fill_flat"]

SPREAD = torch.tensor([-30.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0, 30.0], dtype=torch.float64)  # in units of r/|c|
PIECE_SPREAD = torch.tensor([-12.0, -3.0, 0.0, 3.0, 12.0], dtype=torch.float64)  # the same for the one-dimensional rule
CHUNK = 1 << 22  # values of the direct rule evaluated at once (32 MiB of float64)


def _direct(fn, kinks: torch.Tensor, q1, q2, c, want_deriv: bool, panel: float):
    """Both expectations for flat pairs (P,) by the two-dimensional rule: u = √q₁ z₁,
    v = √q₂(c z₁ + r z₂), r = √(1 − c²), the inner integral over z₂ for each node of z₁."""
    s1, s2 = torch.sqrt(q1), torch.sqrt(q2)
    r = torch.sqrt((1 - c * c).clamp_min(0.0))
    if kinks.numel():
        # v's kink seen from z₁ is smoothed over a width r/|c|: panels of that width around it
        centre = (kinks / (c * s2)[:, None])[..., None] + (r / c.abs())[:, None, None] * SPREAD
        outer_breaks = torch.cat([kinks / s1[:, None], centre.flatten(1)], 1)
        z1, w1 = normal_rule(outer_breaks, panel)  # (P, N1)
        z2, w2 = normal_rule((kinks / s2[:, None, None] - c[:, None, None] * z1[..., None]) / r[:, None, None], panel)
    elif bool((3.0 / s1 < panel).any() or (3.0 / (s2 * r) < panel).any()):
        # a smooth φ still changes over 3/√q around u = 0: graded panels there for φ(u) (in z₁), for E[φ(v) | z₁]
        # (a step of width (r + 3/√q₂)/|c| in z₁) and for φ(v) (around z₂ = −c z₁/r, width 3/(√q₂ r))
        zero = torch.zeros(len(c), 1, dtype=torch.float64)
        outer = torch.cat([graded(zero, 3.0 / s1, panel), graded(zero, (r + 3.0 / s2) / c.abs().clamp_min(1e-300), panel)], 1)
        z1, w1 = normal_rule(outer, panel)
        z2, w2 = normal_rule(graded((-c[:, None] * z1 / r.clamp_min(1e-300)[:, None])[..., None],
                                    (3.0 / (s2 * r).clamp_min(1e-300))[:, None], panel), panel)
    else:
        z1, w1 = normal_rule(None, panel)
        z2, w2 = normal_rule(None, panel)
        z1, w1 = z1.expand(len(c), -1), w1.expand(len(c), -1)
    fu, du = act_and_deriv(fn, s1[:, None] * z1, want_deriv)
    fv, dv = act_and_deriv(fn, s2[:, None, None] * (c[:, None, None] * z1[..., None] + r[:, None, None] * z2), want_deriv)
    e = (fu * w1 * (fv * w2).sum(-1)).sum(-1)
    return e, ((du * w1 * (dv * w2).sum(-1)).sum(-1) if want_deriv else None)


def _smoothed(breaks: tuple[float, ...], pieces, m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """E[g(m + sξ)], ξ ~ N(0, 1), for g given by ``pieces`` between ``breaks``; s ≥ 0. With
    ξ ∈ (a, b) on a piece: E[1] = Φ(b) − Φ(a), E[ξ] = φ(a) − φ(b), E[ξ²] = E[1] + aφ(a) − bφ(b),
    E[e^y] = e^{m + s²/2}(Φ(b − s) − Φ(a − s)), the last in logarithms (no overflow)."""
    s = s.clamp_min(1e-300)
    t = [((k - m) / s).clamp(-40.0, 40.0) for k in breaks]  # each break in units of ξ, once
    cdf = [torch.zeros_like(m), *(torch.special.ndtr(x) for x in t), torch.ones_like(m)]
    pdf = [torch.zeros_like(m), *(torch.exp(-x * x / 2) / math.sqrt(2 * math.pi) for x in t), torch.zeros_like(m)]
    tpdf = [torch.zeros_like(m), *(x * p for x, p in zip(t, pdf[1:-1])), torch.zeros_like(m)]
    edges = [-math.inf, *breaks, math.inf]
    out = torch.zeros_like(m)
    for j, (p0, p1, p2, e) in enumerate(pieces):
        if p0 or p1 or p2:
            e0, e1 = cdf[j + 1] - cdf[j], pdf[j] - pdf[j + 1]
            out += (p0 + p1 * m + p2 * m * m) * e0 + (p1 + 2 * p2 * m) * s * e1
            if p2:
                out += p2 * s * s * (e0 + tpdf[j] - tpdf[j + 1])
        if e:
            g = m + s * s / 2
            lo, hi = edges[j], edges[j + 1]
            # unclamped: at a large s both terms of g + log Φ(·) are huge and only their sum is in range
            up = torch.exp(g + torch.special.log_ndtr((hi - m) / s - s)) if hi < math.inf else torch.exp(g)
            down = torch.exp(g + torch.special.log_ndtr((lo - m) / s - s)) if lo > -math.inf else 0.0
            out += e * (up - down)
    return out


def _direct_pieces(fn, name: str, q1, q2, c, which: int) -> torch.Tensor:
    """One expectation for flat pairs (P,) of a piecewise activation: E over z₁ of
    φ(√q₁ z₁)·E[φ(v) | z₁], the inner expectation in closed form (``_smoothed``); which = 1: φ′."""
    breaks, pieces, dpieces = PIECES[name]
    kinks = torch.tensor(breaks, dtype=torch.float64)
    s1, s2 = torch.sqrt(q1), torch.sqrt(q2)
    r = torch.sqrt((1 - c * c).clamp_min(0.0))
    centre = (kinks / (c * s2)[:, None])[..., None] + (r / c.abs())[:, None, None] * PIECE_SPREAD
    panel = max(0.25, min(3.0, 4.0 / math.sqrt(max(float(q1.max()), 1e-12))))  # φ(√q₁ z₁) has scale 1/√q₁
    z1, w1 = normal_rule(torch.cat([kinks / s1[:, None], centre.flatten(1)], 1), panel)
    fu, du = act_and_deriv(fn, s1[:, None] * z1, which == 1)
    inner = _smoothed(breaks, dpieces if which == 1 else pieces, (s2 * c)[:, None] * z1, (s2 * r)[:, None])
    return ((du if which == 1 else fu) * w1 * inner).sum(-1)


def _direct_panel(qmax: float) -> float:
    """Panel width for φ(√q z) at the largest variance of a chunk (scale ≈ 1/√q)."""
    return max(0.25, min(2.0, 3.0 / math.sqrt(max(qmax, 1e-12))))


def _direct_chunked(fn, kinks, q1, q2, c, want_deriv):
    """``_direct`` over pairs sorted by their larger variance, in chunks of ≤ CHUNK values, each
    with the panel its own largest variance needs."""
    qmax = torch.maximum(q1, q2)
    order = qmax.argsort()
    e, d = torch.empty_like(c), (torch.empty_like(c) if want_deriv else None)
    start = 0
    while start < len(c):
        panel = _direct_panel(float(qmax[order[min(len(c) - 1, start + 63)]]))  # a first guess at this chunk's size
        sharp = 2 * max(1, math.ceil(math.log2(panel * math.sqrt(float(qmax[order[-1]])) * 1e3))) if not kinks.numel() else 0
        nodes = (math.ceil(2 * HALF_WIDTH / panel) + (2 + len(SPREAD)) * kinks.numel() + 3 * sharp) * 12
        step = max(1, CHUNK // (nodes * nodes))
        idx = order[start:start + step]
        panel = _direct_panel(float(qmax[idx].max()))
        part = _direct(fn, kinks, q1[idx], q2[idx], c[idx], want_deriv, panel)
        e[idx] = part[0]
        if want_deriv:
            d[idx] = part[1]
        start += step
    return e, d


def fill_direct(name: str, q1, q2, c, e, bad_e, d, bad_d) -> None:
    """The direct rule, in place, on the grid's pairs (n1, n2) the series left."""
    union = bad_e if d is None else bad_e | bad_d
    if not bool(union.any()):
        return
    i, j = union.nonzero(as_tuple=True)
    fe, fd = e[i, j], (None if d is None else d[i, j])
    fill_flat(name, q1[i], q2[j], c[i, j], fe, bad_e[i, j], fd, None if d is None else bad_d[i, j])
    e[i, j] = fe
    if d is not None:
        d[i, j] = fd


def fill_flat(name: str, q1, q2, c, e, bad_e, d, bad_d) -> None:
    """The direct rule, in place, on flat pairs (P,) the series left: one dimension for a
    piecewise activation (each expectation alone), else two, once for both expectations' pairs."""
    fn = activations.get(name).fn
    for out, bad, which in ((e, bad_e, 0), (d, bad_d, 1)):
        if out is None or name not in PIECES or not bool(bad.any()):
            continue
        i = bad.nonzero(as_tuple=True)[0]
        out[i] = torch.cat([_direct_pieces(fn, name, q1[i[a:a + 4096]], q2[i[a:a + 4096]], c[i[a:a + 4096]], which)
                            for a in range(0, len(i), 4096)])
    union = bad_e if d is None else bad_e | bad_d
    if name in PIECES or not bool(union.any()):
        return
    i = union.nonzero(as_tuple=True)[0]
    kinks = torch.tensor(KINKS.get(name, ()), dtype=torch.float64)
    de, dd = _direct_chunked(fn, kinks, q1[i], q2[i], c[i], d is not None)
    e[i[bad_e[i]]] = de[bad_e[i]]
    if d is not None:
        d[i[bad_d[i]]] = dd[bad_d[i]]
