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
from dataclasses import replace

import torch

from ._gauss import flat_expectations, pair_expectations, second_moments
from ._state import Cov, centre, crop, shifted, valid, window_mean

__all__ = ["weight_layer", "pool", "activation", "dense_expectations", "add", "scale", "tie"]


def _at_offsets(t: torch.Tensor, nb: int, radius: tuple[int, ...], values: list[torch.Tensor]) -> torch.Tensor:
    """t's entries at the offsets ``values`` (one 1-D tensor per spatial dimension), 0 beyond the radius kept."""
    for k, (r, v) in enumerate(zip(radius, values)):
        if len(v) == 2 * r + 1 and bool((v == torch.arange(-r, r + 1)).all()):
            continue  # every offset kept, in order: no copy
        reach = max(int(v.abs().max()), r)
        if reach > r:
            pad = [0, 0] * (t.ndim - nb - k - 1) + [reach - r, reach - r]
            t = torch.nn.functional.pad(t, pad)
        t = t.index_select(nb + k, v + reach)
    return t


def _offsets(radius: tuple[int, ...]) -> list[torch.Tensor]:
    return [torch.arange(-r, r + 1) for r in radius]


def tie(state: Cov) -> Cov:
    """A pair of equal inputs (x1 against itself, or ``twins`` of x1 and x2): its cross entry is the
    input's own covariance, to the bit, so that it keeps correlation 1 whatever the rounding of
    two computations (in the chaotic phase c = 1 is unstable: a last-bit difference would grow)."""
    if state.twins is not None and state.pairs is not None:  # packed: (rows, positions in the packed pairs)
        state.cross[state.twins[1]] = state.self1[state.twins[0]]
    elif state.twins is not None:
        state.cross[state.twins] = state.self1[state.twins[0]]
    elif state.self2 is None:
        i = torch.arange(state.cross.shape[0])
        state.cross[i, i] = state.self1
    return state


def _affine(summed: Cov, sigma_w2: float, sigma_b2: float, mask, fresh: bool) -> Cov:
    """Σ′ = σ_w²·summed + σ_b² on the valid entries, Θ′ = σ_w²·(summed Θ) + Σ′; in place where
    ``fresh`` (the summed tensors are this layer's own)."""

    def sigma(t, nb):
        t = t.mul_(sigma_w2) if fresh else t * sigma_w2
        t = t.add_(sigma_b2)
        return t if mask is None else t.mul_(mask)

    ntk = summed.ntk
    out = replace(summed, ntk=None).map(sigma)
    if ntk is None:
        out.ntk = out.cross.clone()
    elif mask is None:
        out.ntk = torch.add(out.cross, ntk, alpha=sigma_w2)
    else:
        out.ntk = ntk.mul_(mask).mul_(sigma_w2).add_(out.cross)
    return tie(out)


def weight_layer(state: Cov, sigma_w2: float, sigma_b2: float, conv: dict | None, radius_out: tuple[int, ...], tag) -> Cov:
    """A Linear (``conv`` None) or a convolution (``conv``: kernel, stride, padding, dilation and
    the output's size) with fresh weights ``tag``."""
    deps = state.deps | {tag}
    if conv is None:
        out = _affine(state, sigma_w2, sigma_b2, None, False)
        out.fresh, out.deps = tag, deps
        return out
    k, s, p, dl, size = conv["kernel"], conv["stride"], conv["padding"], conv["dilation"], conv["size"]
    picked = [s_k * v for s_k, v in zip(s, _offsets(radius_out))]

    def summed(t, nb):
        return window_mean(_at_offsets(t, nb, state.radius, picked), k, s, p, dl, size, (0,) * len(k))

    moved = state.map(summed, size=size, radius=radius_out)
    out = _affine(moved, sigma_w2, sigma_b2, valid(size, radius_out), True)
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
            sub = tuple(w - abs(dk) for w, dk in zip(window, delta))  # the a with a and a + δ both in the window
            term = window_mean(at, sub, stride, padding, (1,) * len(sub), size, tuple(max(0, -dk) for dk in delta))
            term = term.mul_(math.prod(sub))
            total = term if total is None else total.add_(term)
        return total.div_(math.prod(window) ** 2)

    m = valid(size, radius_out)
    return tie(state.map(lambda t, nb: summed(t, nb) * m, size=size, radius=radius_out))


def dense_expectations(state: Cov, name: str, want_deriv: bool, method: str = "auto"):
    """Both expectations on a dense state's pairs: the grid, or the packed pairs (i, j) of ``pairs``."""
    s1 = state.self1
    if state.pairs is not None:
        i, j = state.pairs
        return flat_expectations(name, s1.index_select(0, i), s1.index_select(0, j), state.cross, want_deriv=want_deriv,
                                 method=method)
    return pair_expectations(name, s1, s1 if state.self2 is None else state.self2, state.cross, want_deriv=want_deriv,
                             method=method)


def _expand(v: torch.Tensor, r: int) -> torch.Tensor:
    """v (n, *S) as (n, *1s for D, *S)."""
    return v.reshape(v.shape[0], *([1] * r), *v.shape[1:])


def activation(state: Cov, name: str, method: str = "auto") -> Cov:
    """φ applied to every unit: the pair's expectations from each input's own variances
    (``method`` "quadrature": the series and rules even where a closed form exists, for tests)."""
    with_ntk = state.ntk is not None
    s1 = state.self1
    s2 = state.self2
    if not state.size:  # dense: the grid of every x1 against every x2 (or its packed upper triangle)
        e, d = dense_expectations(state, name, with_ntk, method)
        # packed (x1 against itself): each input's own pair is on the diagonal, already computed
        new1 = e[state.diagonal] if state.diagonal is not None else second_moments(name, s1, method)[0]
        new2 = None if s2 is None else second_moments(name, s2, method)[0]
        return tie(Cov(e, new1, new2, None if d is None else d.mul_(state.ntk), twins=state.twins, deps=state.deps,
                       pairs=state.pairs, diagonal=state.diagonal))
    r, m = len(state.size), valid(state.size, state.radius)
    v1 = centre(s1, 1, state.radius)
    v2 = v1 if s2 is None else centre(s2, 1, state.radius)
    e, d = flat_expectations(name, _expand(v1, r)[:, None], shifted(v2, state.radius)[None], state.cross, want_deriv=with_ntk,
                             method=method)
    new1 = flat_expectations(name, _expand(v1, r), shifted(v1, state.radius), s1, want_deriv=False, method=method)[0].mul_(m)
    new2 = None if s2 is None else flat_expectations(name, _expand(v2, r), shifted(v2, state.radius), s2, want_deriv=False,
                                                     method=method)[0].mul_(m)
    out = Cov(e.mul_(m), new1, new2, None if d is None else d.mul_(state.ntk), state.size, state.radius, state.flat, None, state.deps)
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
