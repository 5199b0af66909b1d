"""What the infinite-width kernel carries from layer to layer: the covariance of a tensor's values.

At infinite width every channel (feature, hidden unit) of a layer is an independent copy of one
Gaussian process, so a tensor of shape (N, C, *S) is described by the covariance of one channel
between two inputs at two positions. Weights are shared across positions, so only the *offset*
between the two positions matters for which entries a later layer needs: a convolution keeps
offsets (times its stride), an average pooling widens them by its window, a readout after
``Flatten`` needs offset 0 alone. The state stores each position p with the offsets d in a box
of ``radius`` around 0, layout (batch…, *D, *S): entry [d, p] is the covariance between position
p of the first input and position p + d of the second (0 where p + d is off the map).

``cross`` is (n1, n2, *D, *S), x1 against x2; ``self1`` (n1, *D, *S) and ``self2`` each input
against itself (the variances an activation needs; ``self2`` None when x2 is x1); ``ntk`` the
neural tangent kernel in ``cross``'s layout (None: 0, the data's). Dense tensors have S = ().
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = ["Cov", "valid", "crop", "centre", "shifted", "window_mean", "twins", "input_state", "readout", "pack", "unpack"]


@dataclass
class Cov:
    cross: torch.Tensor
    self1: torch.Tensor
    self2: torch.Tensor | None
    ntk: torch.Tensor | None
    size: tuple[int, ...] = ()  # S: the positions (empty for a dense tensor)
    radius: tuple[int, ...] = ()  # the offsets kept, per spatial dimension
    flat: bool = False  # after Flatten: positions are features, a readout averages over them
    fresh: object = None  # the weight layer this tensor is a zero-mean linear image of (None: it is not)
    deps: frozenset = field(default_factory=frozenset)  # every weight layer it depends on
    twins: tuple | None = None  # (i, j): x1[i] equal to x2[j] (dense states; kept at correlation 1 by ``tie``)
    pairs: tuple | None = None  # (i, j): a dense state of x1 against itself packed to its upper triangle, cross[p] = Σ(x_i, x_j)
    diagonal: torch.Tensor | None = None  # packed: the positions of the pairs (i, i)

    def tensors(self) -> dict[str, tuple[torch.Tensor | None, int]]:
        """The covariances with their number of batch dimensions."""
        return {"cross": (self.cross, 2), "self1": (self.self1, 1), "self2": (self.self2, 1), "ntk": (self.ntk, 2)}

    def map(self, fn, **changes) -> "Cov":
        """A state whose every covariance is ``fn(tensor, batch_dims)`` (None stays None)."""
        new = {k: (None if t is None else fn(t, nb)) for k, (t, nb) in self.tensors().items()}
        return replace(self, **new, **changes)


def _box(radius: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(2 * r + 1 for r in radius)


def valid(size: tuple[int, ...], radius: tuple[int, ...]) -> torch.Tensor:
    """(*D, *S) float64: 1 where position p + offset d is on the map, else 0."""
    out = torch.ones(_box(radius) + tuple(size), dtype=torch.float64)
    r = len(size)
    for k, (n, rad) in enumerate(zip(size, radius)):
        d = torch.arange(-rad, rad + 1)
        p = torch.arange(n)
        ok = ((p[None, :] + d[:, None]) >= 0) & ((p[None, :] + d[:, None]) < n)  # (D_k, S_k)
        shape = [1] * (2 * r)
        shape[k], shape[r + k] = 2 * rad + 1, n
        out = out * ok.reshape(shape).double()
    return out


def crop(t: torch.Tensor, nb: int, radius: tuple[int, ...], to: tuple[int, ...]) -> torch.Tensor:
    """The offsets within ``to`` of a tensor holding ``radius``."""
    for k, (r, s) in enumerate(zip(radius, to)):
        if s < r:
            t = t.narrow(nb + k, r - s, 2 * s + 1)
    return t


def centre(t: torch.Tensor, nb: int, radius: tuple[int, ...]) -> torch.Tensor:
    """Offset 0: (batch…, *S)."""
    for k, r in enumerate(radius):
        t = t.select(nb, r)
    return t


def shifted(v: torch.Tensor, radius: tuple[int, ...]) -> torch.Tensor:
    """v (n, *S) at position p + d: (n, *D, *S), 1 where p + d is off the map (a placeholder the
    mask removes)."""
    r = len(radius)
    if r == 0:
        return v
    pad = [x for rad in reversed(radius) for x in (rad, rad)]
    padded = F.pad(v, pad, value=1.0)
    size = v.shape[1:]
    out = torch.empty((v.shape[0], *_box(radius), *size), dtype=v.dtype)
    for d in itertools.product(*(range(2 * rad + 1) for rad in radius)):
        out[(slice(None), *d)] = padded[(slice(None), *(slice(dk, dk + n) for dk, n in zip(d, size)))]
    return out


def window_mean(t: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...],
                dilation: tuple[int, ...], count: tuple[int, ...], start: tuple[int, ...]) -> torch.Tensor:
    """The mean of t over windows of ``kernel`` (spaced by ``dilation``) on its last len(kernel)
    dimensions: output q < count averages positions start + stride·q + dilation·a − pad, a <
    kernel, the zeros of the padding counted. A convolution's and a pooling's sum, divided."""
    r = len(kernel)
    lead = t.shape[:-r]
    if any(start):
        t = t[(..., *(slice(s0, None) for s0 in start))]
    if all(d == 1 for d in dilation) and all(2 * p <= k for p, k in zip(pad, kernel)) and r in (1, 2):
        pool = F.avg_pool1d if r == 1 else F.avg_pool2d  # one vectorised pass: every leading entry a channel
        out = pool(t.reshape(1, -1, *t.shape[-r:]), kernel, stride, pad, count_include_pad=True)
        out = out[(..., *(slice(0, c) for c in count))]
        return out.reshape(*lead, *count)
    if any(pad):
        t = F.pad(t, [x for p in reversed(pad) for x in (p, p)])
    total = None
    for a in itertools.product(*(range(k) for k in kernel)):
        term = t[(..., *(slice(d * ai, d * ai + st * (c - 1) + 1, st) for d, ai, st, c in zip(dilation, a, stride, count)))]
        total = term.clone() if total is None else total.add_(term)
    return total.div_(math.prod(kernel))


def _gram(a: torch.Tensor, b: torch.Tensor, radius: tuple[int, ...], channel_last: bool) -> torch.Tensor:
    """(na, nb, *D, *S): the channel mean of a[i, :, p]·b[j, :, p + d] (0 off the map)."""
    if not channel_last:
        a, b = a.movedim(1, -1), b.movedim(1, -1)  # (n, *S, C)
    size, c = a.shape[1:-1], a.shape[-1]
    pad = [0, 0] + [x for rad in reversed(radius) for x in (rad, rad)]
    bp = F.pad(b, pad)
    out = torch.empty((a.shape[0], b.shape[0], *_box(radius), *size), dtype=torch.float64)
    flat_a = a.reshape(a.shape[0], -1, c)  # (na, P, C)
    for d in itertools.product(*(range(2 * rad + 1) for rad in radius)):
        part = bp[(slice(None), *(slice(dk, dk + n) for dk, n in zip(d, size)))].reshape(b.shape[0], -1, c)
        out[(slice(None), slice(None), *d)] = torch.einsum("ipc,jpc->ijp", flat_a, part).reshape(a.shape[0], b.shape[0], *size) / c
    return out


def twins(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The index pairs (i, j) with a[i] equal to b[j] in every coordinate."""
    # equal rows have equal projections on any vector: distinct projections prove distinct rows (torch.unique over
    # rows compares them one by one, 1.5 ms on 500 inputs); a tie of projections goes to the exact comparison
    both = a if b is a else torch.cat([a, b])
    direction = torch.linspace(1.0, 2.0, both.shape[1], dtype=both.dtype) + torch.pi / 7
    distinct = len(torch.unique(both @ direction))
    if b is a and distinct == len(a):  # the usual case, by a sort: each input its own twin alone
        i = torch.arange(len(a))
        return i, i
    if b is not a and distinct == len(a) + len(b):
        return torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)
    rows = max(1, (1 << 24) // max(1, b.shape[0] * b.shape[1]))
    hits = [(a[i:i + rows, None, :] == b[None, :, :]).all(-1).nonzero() for i in range(0, a.shape[0], rows)]
    idx = torch.cat([h + torch.tensor([i * rows, 0]) for i, h in enumerate(hits)]) if hits else torch.zeros(0, 2, dtype=torch.int64)
    return idx[:, 0], idx[:, 1]


def input_state(x1: torch.Tensor, x2: torch.Tensor | None, layout: str, radius: tuple[int, ...]) -> Cov:
    """The data's covariance: channel means of products. ``layout``: "dense" (n, F), "channels"
    (n, C, *S) or "sequence" (n, T, F)."""
    if layout == "dense":
        f = x1.shape[1]
        cross = x1 @ (x1 if x2 is None else x2).T / f
        s1 = (x1 * x1).sum(1) / f
        s2 = None if x2 is None else (x2 * x2).sum(1) / f
        return Cov(cross, s1, s2, None, twins=twins(x1, x1 if x2 is None else x2))
    last = layout == "sequence"
    size = tuple(x1.shape[1:-1] if last else x1.shape[2:])
    cross = _gram(x1, x1 if x2 is None else x2, radius, last)
    s1 = torch.stack([_gram(x1[i:i + 1], x1[i:i + 1], radius, last)[0, 0] for i in range(len(x1))])
    s2 = None if x2 is None else torch.stack([_gram(x2[i:i + 1], x2[i:i + 1], radius, last)[0, 0] for i in range(len(x2))])
    return Cov(cross, s1, s2, None, size, radius)


def readout(state: Cov) -> Cov:
    """The state a dense readout sees: a flattened spatial state averaged over its positions at
    offset 0 (a weight per (channel, position), each independent), a dense one as it is."""
    if not state.size:
        return state
    if not state.flat:
        raise ValueError(f"expected a dense or flattened tensor before nn.Linear, got one with positions {state.size} "
                         "(add nn.Flatten, or a pooling to 1)")
    dims = lambda nb: tuple(range(nb, nb + len(state.size)))  # noqa: E731
    return state.map(lambda t, nb: centre(t, nb, state.radius).mean(dims(nb)), size=(), radius=(), flat=False)


def positions(size: tuple[int, ...]) -> int:
    return math.prod(size)


@lru_cache(maxsize=4)
def _packing(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pairs i ≤ j of n inputs and, on the (n, n) grid, each pair's position among them (−1 below the diagonal)."""
    i, j = torch.triu_indices(n, n)
    at = torch.full((n, n), -1, dtype=torch.int64)
    at[i, j] = torch.arange(len(i))
    return i, j, at


@lru_cache(maxsize=4)
def _flat_positions(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The packed pairs' positions in the flattened (n, n) grid, above and below the diagonal."""
    i, j, _ = _packing(n)
    return i * n + j, j * n + i


def pack(state: Cov) -> Cov:
    """A dense state of x1 against itself on the pairs i ≤ j alone (half the work of every layer),
    its twins as (rows, packed positions)."""
    i, j, at = _packing(state.cross.shape[0])
    ti, tj = state.twins
    keep = ti <= tj
    upper = _flat_positions(len(at))[0]
    take = lambda t: t.reshape(-1).index_select(0, upper)  # noqa: E731 — index_select: twice as fast as t[i, j]
    return replace(state, cross=take(state.cross), ntk=None if state.ntk is None else take(state.ntk), pairs=(i, j),
                   twins=(ti[keep], at[ti[keep], tj[keep]]), diagonal=at.diagonal().clone())


def unpack(t: torch.Tensor, pairs: tuple, n: int) -> torch.Tensor:
    """The symmetric (n, n) grid of a packed tensor."""
    out = torch.empty((n, n), dtype=t.dtype)
    upper, lower = _flat_positions(n)
    out.view(-1).index_copy_(0, upper, t).index_copy_(0, lower, t)
    return out
