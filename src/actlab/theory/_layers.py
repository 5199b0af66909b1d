"""Each layer's map on the covariance state (``_state.Cov``) at infinite width, NTK
parameterisation; σ's as ``actlab.ntk``: weights of variance σ_w²/fan_in, biases σ_b².

- a weight layer (Linear, Conv): Σ′ = σ_w²·(mean over its fan-in of Σ) + σ_b², Θ′ = σ_w²·(the same
  of Θ) + Σ′. A convolution's fan-in is its window: entry (p, d) of Σ′ sums Σ at the window's
  positions and the same offset (weights are shared across positions, independent across them);
- an average pooling: both inputs averaged over their windows, so offsets widen by the window;
- an activation: Σ′ = E[φ(u)φ(v)], Θ′ = E[φ′(u)φ′(v)]·Θ, (u, v) ~ N(0, the pair's Σ), by the
  engine of ``_gauss`` (the grid of pairs for a dense tensor, pairs elementwise otherwise);
- a sum of two branches: Σ and Θ add, when one branch is a zero-mean image of weights the other
  does not see (a residual block that ends in a layer with weights), so the cross terms vanish.
"""

from __future__ import annotations

import itertools
import math

import torch

from ._gauss import flat_expectations, pair_expectations, second_moments
from ._state import Cov, centre, crop, shifted, valid, window_sum

__all__ = ["weight_layer", "pool", "activation", "add", "scale", "tie"]


def _at_offsets(t: torch.Tensor, nb: int, radius: tuple[int, ...], values: list[torch.Tensor]) -> torch.Tensor:
    """t's entries at the offsets ``values`` (one 1-D tensor per spatial dimension), 0 beyond the radius kept."""
    for k, (r, v) in enumerate(zip(radius, values)):
        reach = max(int(v.abs().max()), r)
        if reach > r:
            pad = [0, 0] * (t.ndim - nb - k - 1) + [reach - r, reach - r]
            t = torch.nn.functional.pad(t, pad)
        t = t.index_select(nb + k, v + reach)
    return t


def _offsets(radius: tuple[int, ...]) -> list[torch.Tensor]:
    return [torch.arange(-r, r + 1) for r in radius]


def tie(state: Cov) -> Cov:
    """x1 against itself: the cross kernel's diagonal is each input's own covariance, to the bit
    (a pair of equal inputs keeps correlation 1, whatever the rounding of two computations)."""
    if state.self2 is None:
        i = torch.arange(state.cross.shape[0])
        state.cross[i, i] = state.self1
    return state


def _affine(state: Cov, summed: Cov, sigma_w2: float, sigma_b2: float, mask) -> Cov:
    """Σ′ = σ_w²·summed + σ_b² on the valid entries, Θ′ = σ_w²·(summed Θ) + Σ′."""
    m = 1.0 if mask is None else mask
    out = summed.map(lambda t, nb: (sigma_w2 * t + sigma_b2) * m)
    out.ntk = out.cross.clone() if summed.ntk is None else sigma_w2 * summed.ntk * m + out.cross
    return tie(out)


def weight_layer(state: Cov, sigma_w2: float, sigma_b2: float, conv: dict | None, radius_out: tuple[int, ...], tag) -> Cov:
    """A Linear (``conv`` None) or a convolution (``conv``: kernel, stride, padding, dilation and
    the output's size) with fresh weights ``tag``."""
    deps = state.deps | {tag}
    if conv is None:
        out = _affine(state, state, sigma_w2, sigma_b2, None)
        out.fresh, out.deps = tag, deps
        return out
    k, s, p, dl, size = conv["kernel"], conv["stride"], conv["padding"], conv["dilation"], conv["size"]
    picked = [s_k * v for s_k, v in zip(s, _offsets(radius_out))]

    def summed(t, nb):
        t = _at_offsets(t, nb, state.radius, picked)
        total = None
        for a in itertools.product(*(range(n) for n in k)):
            term = window_sum(t, tuple(d * ai for d, ai in zip(dl, a)), s, size, p)
            total = term if total is None else total + term
        return total / math.prod(k)

    moved = state.map(summed, size=size, radius=radius_out)
    out = _affine(state, moved, sigma_w2, sigma_b2, valid(size, radius_out))
    out.fresh, out.deps = tag, deps
    return out


def pool(state: Cov, window: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...], size: tuple[int, ...],
         radius_out: tuple[int, ...]) -> Cov:
    """Average pooling (zeros of the padding counted): entry (q, d′) averages the input at
    positions s·q + a and offsets s·d′ + b − a over the window's a and b."""

    def summed(t, nb):
        total = None
        for delta in itertools.product(*(range(-(w - 1), w) for w in window)):
            at = _at_offsets(t, nb, state.radius, [st * v + dk for st, v, dk in zip(stride, _offsets(radius_out), delta)])
            for a in itertools.product(*(range(max(0, -dk), min(w, w - dk)) for w, dk in zip(window, delta))):
                term = window_sum(at, a, stride, size, padding)
                total = term if total is None else total + term
        return total / math.prod(window) ** 2

    m = valid(size, radius_out)
    return tie(state.map(lambda t, nb: summed(t, nb) * m, size=size, radius=radius_out))


def _expand(v: torch.Tensor, r: int) -> torch.Tensor:
    """v (n, *S) as (n, *1s for D, *S)."""
    return v.reshape(v.shape[0], *([1] * r), *v.shape[1:])


def activation(state: Cov, name: str) -> Cov:
    """φ applied to every unit: the pair's expectations from each input's own variances."""
    with_ntk = state.ntk is not None
    s1 = state.self1
    s2 = state.self2
    if not state.size:  # dense: the grid of every x1 against every x2
        q1, q2 = s1, (s1 if s2 is None else s2)
        e, d = pair_expectations(name, q1, q2, state.cross, want_deriv=with_ntk)
        new1 = second_moments(name, q1)[0]
        new2 = None if s2 is None else second_moments(name, s2)[0]
        return tie(Cov(e, new1, new2, None if d is None else d * state.ntk, fresh=None, deps=state.deps))
    r, m = len(state.size), valid(state.size, state.radius)
    v1 = centre(s1, 1, state.radius)
    v2 = v1 if s2 is None else centre(s2, 1, state.radius)
    e, d = flat_expectations(name, _expand(v1, r)[:, None], shifted(v2, state.radius)[None], state.cross, want_deriv=with_ntk)
    new1 = flat_expectations(name, _expand(v1, r), shifted(v1, state.radius), s1, want_deriv=False)[0] * m
    new2 = None if s2 is None else flat_expectations(name, _expand(v2, r), shifted(v2, state.radius), s2, want_deriv=False)[0] * m
    out = Cov(e * m, new1, new2, None if d is None else d * state.ntk, state.size, state.radius, state.flat, None, state.deps)
    return tie(out)


def add(a: Cov, b: Cov, radius_out: tuple[int, ...], where: str) -> Cov:
    """The sum of two branches, independent by construction (see the module's docstring)."""
    if not ((a.fresh is not None and a.fresh not in b.deps) or (b.fresh is not None and b.fresh not in a.deps)):
        raise ValueError(f"{where}: expected a sum of independent branches (one of them ending in a layer with weights that "
                         "the other does not use, as in a residual block); got branches whose covariance the kernel does not "
                         "know (e.g. x + relu(x))")
    if a.size != b.size or a.flat != b.flat:
        raise ValueError(f"{where}: expected branches of one shape, got positions {a.size} and {b.size}")
    ca = a.map(lambda t, nb: crop(t, nb, a.radius, radius_out), radius=radius_out)
    cb = b.map(lambda t, nb: crop(t, nb, b.radius, radius_out), radius=radius_out)
    out = ca.map(lambda t, nb: t.clone())
    for key, (t, _) in cb.tensors().items():
        mine = getattr(out, key)
        if t is not None and mine is not None:
            setattr(out, key, mine + t)
        elif t is not None:
            setattr(out, key, t.clone())
    out.fresh, out.deps = None, a.deps | b.deps
    return out


def scale(state: Cov, factor: float) -> Cov:
    """A constant factor c on the tensor: every covariance times c² (a zero-mean image stays one)."""
    return state.map(lambda t, nb: t * (factor * factor))
