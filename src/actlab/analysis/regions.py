"""The exact linear regions of a piecewise-linear model on a 2-D slice of its input.

A network of affine layers and piecewise-linear activations is affine on each cell of a
partition of its input space. On a plane x = origin + a·u + b·v (or the input itself, for
a model with two inputs), that partition is a set of convex polygons, computed here from the
weights in float64, layer by layer:

- every region carries the affine map from (a, b) to the current layer's values, as its
  values at three points: P₀ at (0, 0), P₁ at (1, 0), P₂ at (0, 1);
- an affine layer (Linear, convolutions, eval BatchNorm, average pools, reshapes: whatever
  ``audit`` knows to be affine) maps the three points (one batched forward for all regions);
- an elementwise piecewise-linear activation (ReLU, LeakyReLU, PReLU, ReLU6, Hardtanh,
  Hardsigmoid, abs) with breakpoints β splits each region by every line z_j(a, b) = β that
  crosses it; on each piece every unit sits in one linear piece of its activation, whose
  slope and intercept (read off the module itself at two points of the interval) map P;
- a max over groups (maxout, max-pooling) splits each region into the cells where one
  candidate of a group is the largest: the polygon clipped by z_i ≥ z_m for every m.

A region is a cell of activation patterns with an interior (pieces below 1e-12 of the box's
area are slivers of rounding and dropped). Before the exact work a grid of 256 × 256 points
counts the patterns it sees: more than ``max_regions`` is refused at once with that number.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from ..nets import Act
from ..train import Maxout
from .audit import AFFINE_FUNCTIONS, AFFINE_METHODS, affine_by_construction

__all__ = ["RegionMap", "regions", "NotPiecewiseLinearError", "TooManyRegionsError", "PL_ACTIVATIONS"]

# registry activations that are piecewise linear, with their breakpoints
PL_ACTIVATIONS: dict[str, tuple[float, ...]] = {
    "linear": (), "relu": (0.0,), "leaky_relu": (0.0,), "relu6": (0.0, 6.0), "hardtanh": (-1.0, 1.0),
    "hardsigmoid": (-3.0, 3.0), "abs": (0.0,),
}
_SLIVER = 1e-12  # pieces smaller than this fraction of the box are rounding, not regions
_GRID = 256  # the pre-count's grid, per side


class NotPiecewiseLinearError(ValueError):
    """The model has a layer that is not affine or piecewise linear (tanh, sigmoid, GELU, …)."""


class TooManyRegionsError(ValueError):
    """The partition has more regions than ``max_regions``."""


# ---------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class RegionMap:
    """The partition of a 2-D box into the linear regions of a model, exact in float64.

    ``polygons[r]`` is region r's (k, 2) vertices, counter-clockwise, in plane coordinates (a, b);
    on it the model is ``weight[r] @ (a, b) + bias[r]`` (weight (count, d_out, 2), bias
    (count, d_out)); ``pattern[r]`` is the piece every unit is in (the interval of its
    activation, or the winning candidate of a max); ``area[r]`` its area."""

    bounds: tuple[float, float, float, float]
    polygons: list[np.ndarray]
    weight: np.ndarray
    bias: np.ndarray
    pattern: np.ndarray
    area: np.ndarray
    layers: list[str] = field(default_factory=list)  # what each step of the model was taken as
    grid_count: int = 0  # patterns the pre-count's grid saw (a lower bound)
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.polygons)

    def locate(self, points) -> np.ndarray:
        """(n,) the region of each (a, b) point (−1 outside the box)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.full(len(pts), -1)
        for r, poly in enumerate(self.polygons):
            edges = np.roll(poly, -1, axis=0) - poly  # (k, 2)
            rel = pts[:, None, :] - poly[None, :, :]  # (n, k, 2)
            inside = (edges[None, :, 0] * rel[..., 1] - edges[None, :, 1] * rel[..., 0] >= -1e-12).all(axis=1)
            out[(out < 0) & inside] = r
        return out

    def __call__(self, points) -> np.ndarray:
        """(n, d_out): the model at (a, b) points, by the map of the region each one lies in."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        r = self.locate(pts)
        if (r < 0).any():
            raise ValueError(f"{int((r < 0).sum())} points lie outside the box {self.bounds}")
        return np.einsum("noi,ni->no", self.weight[r], pts) + self.bias[r]

    def _level(self, level: float, output: int):
        """Per region: its polygon and the output minus ``level`` at its vertices."""
        for poly, w, b in zip(self.polygons, self.weight[:, output], self.bias[:, output]):
            yield poly, poly @ w + b - level

    def boundary(self, level: float = 0.0, output: int = 0) -> list[np.ndarray]:
        """The exact level set {output = level} (a classifier's decision boundary: 0 for a
        logit, ½ for an MSE output) as polylines (m, 2), joined across regions."""
        segments = [seg for poly, vals in self._level(level, output) if (seg := _cut(poly, vals)) is not None]
        return _join(segments)

    def crossed(self, level: float = 0.0, output: int = 0) -> int:
        """How many regions the level set {output = level} passes through."""
        return sum(1 for _, vals in self._level(level, output) if vals.max() > 0 and vals.min() < 0)

    def _repr_html_(self) -> str:
        from .._html import regions_html

        return regions_html(self)

    def plot(self, ax=None, *, level: float | None = 0.0, output: int = 0):
        """Regions as coloured polygons and the boundary at ``level`` (None: none), on ``ax`` or a
        new figure (``actlab.viz.plot_region_map``; matplotlib is imported only here)."""
        from ..viz.geometry import plot_region_map

        return plot_region_map(self, ax, level=level, output=output)

    def to_dict(self, full: bool = False) -> dict:
        d = {"count": self.count, "bounds": list(self.bounds), "layers": self.layers, "grid_count": self.grid_count,
             "seconds": self.seconds, "area_total": float(self.area.sum())}
        if full:
            d.update(polygons=[p.tolist() for p in self.polygons], weight=self.weight.tolist(), bias=self.bias.tolist(),
                     pattern=self.pattern.tolist())
        return d

    def __repr__(self) -> str:
        return f"RegionMap(count={self.count}, bounds={self.bounds}, d_out={self.weight.shape[1]})"


# ---------------------------------------------------------------------------- polygons


def _box(bounds) -> np.ndarray:
    x0, x1, y0, y1 = bounds
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _area(poly: np.ndarray) -> float:
    """Signed (shoelace): positive when counter-clockwise."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(x[:-1] @ y[1:] - y[:-1] @ x[1:] + x[-1] * y[0] - y[-1] * x[0])


def _split(poly: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The parts of a convex polygon where the affine ``vals`` (at its vertices) are ≤ 0 and ≥ 0."""
    neg, pos = [], []
    k = len(poly)
    for i in range(k):
        p, q, vp, vq = poly[i], poly[(i + 1) % k], vals[i], vals[(i + 1) % k]
        if vp <= 0:
            neg.append(p)
        if vp >= 0:
            pos.append(p)
        if (vp < 0 < vq) or (vq < 0 < vp):
            x = p + (q - p) * (vp / (vp - vq))
            neg.append(x)
            pos.append(x)
    return (np.array(neg) if len(neg) >= 3 else None), (np.array(pos) if len(pos) >= 3 else None)


def _cut(poly: np.ndarray, vals: np.ndarray) -> np.ndarray | None:
    """The segment where the affine ``vals`` vanish inside the polygon, or None."""
    pts = []
    k = len(poly)
    for i in range(k):
        p, q, vp, vq = poly[i], poly[(i + 1) % k], vals[i], vals[(i + 1) % k]
        if (vp < 0 < vq) or (vq < 0 < vp):
            pts.append(p + (q - p) * (vp / (vp - vq)))
        elif vp == 0:
            pts.append(p)
    return np.array(pts[:2]) if len(pts) >= 2 else None


def _join(segments: list[np.ndarray]) -> list[np.ndarray]:
    """Segments joined end to end into polylines (shared endpoints match to 1e-9)."""
    key = lambda p: (round(float(p[0]), 9), round(float(p[1]), 9))  # noqa: E731
    ends: dict[tuple, list[int]] = {}
    for i, s in enumerate(segments):
        for p in s:
            ends.setdefault(key(p), []).append(i)
    used, lines = set(), []
    for start in range(len(segments)):
        if start in used:
            continue
        used.add(start)
        line = [segments[start][0], segments[start][1]]
        for grow_at_end in (True, False):
            while True:
                tip = line[-1] if grow_at_end else line[0]
                nxt = next((j for j in ends.get(key(tip), []) if j not in used), None)
                if nxt is None:
                    break
                used.add(nxt)
                a, b = segments[nxt]
                far = b if key(a) == key(tip) else a
                line.append(far) if grow_at_end else line.insert(0, far)
        lines.append(np.array(line))
    return lines


# ---------------------------------------------------------------------------- the model as steps


@dataclass
class _Step:
    kind: str  # "affine", "pl" (elementwise piecewise linear) or "max" (a max over groups)
    name: str  # the module's name and type, for the report and for errors
    fn: Callable[[torch.Tensor], torch.Tensor]  # on a batch (N, *shape), in float64
    breakpoints: tuple[float, ...] = ()  # "pl": where the pieces meet
    groups: Callable | None = None  # "max": shape -> ((G, K) indices into the flattened values, −1 for none; out shape)


_PL_MODULES: dict[type, Callable[[nn.Module], tuple[float, ...]]] = {
    nn.ReLU: lambda m: (0.0,),
    nn.LeakyReLU: lambda m: (0.0,),
    nn.PReLU: lambda m: (0.0,),
    nn.ReLU6: lambda m: (0.0, 6.0),
    nn.Hardtanh: lambda m: (float(m.min_val), float(m.max_val)),
    nn.Hardsigmoid: lambda m: (-3.0, 3.0),
}


def _maxout_groups(k: int):
    def groups(shape):
        idx = torch.arange(math.prod(shape)).view(shape).unflatten(-1, (k, -1)).movedim(-2, -1)  # (..., w, k)
        return idx.reshape(-1, k), tuple(idx.shape[:-1])
    return groups


def _maxpool_groups(m: nn.MaxPool2d):
    def groups(shape):
        if len(shape) != 3:
            raise NotPiecewiseLinearError(f"MaxPool2d on a tensor of shape {shape}: expected (C, H, W)")
        idx = torch.arange(1, math.prod(shape) + 1, dtype=torch.float64).view(1, *shape)  # +1: zero padding is −1 below
        cols = F.unfold(idx, m.kernel_size, dilation=m.dilation, padding=m.padding, stride=m.stride)  # (1, C·kh·kw, L)
        C = shape[0]
        g = cols.view(C, -1, cols.shape[-1]).permute(0, 2, 1)  # (C, L, kh·kw)
        out = F.max_pool2d(torch.zeros(1, *shape), m.kernel_size, m.stride, m.padding, m.dilation).shape[1:]
        return g.reshape(-1, g.shape[-1]).long() - 1, tuple(out)
    return groups


def _classify(name: str, mod: Any) -> _Step:
    label = f"{name or '(model)'} ({type(mod).__name__}{' ' + mod.spec.name if isinstance(mod, Act) else ''})"
    if isinstance(mod, Act):
        if mod.spec.is_affine:
            return _Step("affine", label, mod)
        if mod.spec.name in PL_ACTIVATIONS:
            return _Step("pl", label, mod, PL_ACTIVATIONS[mod.spec.name])
    elif isinstance(mod, Maxout):
        return _Step("max", label, mod, groups=_maxout_groups(mod.k))
    elif isinstance(mod, nn.MaxPool2d) and not mod.ceil_mode and not mod.return_indices:
        return _Step("max", label, mod, groups=_maxpool_groups(mod))
    elif type(mod) in _PL_MODULES:
        return _Step("pl", label, mod, _PL_MODULES[type(mod)](mod))
    elif isinstance(mod, nn.Module) and affine_by_construction(mod):
        return _Step("affine", label, mod)
    raise NotPiecewiseLinearError(
        f"{label} is not piecewise linear (nor a known affine layer): regions exist only for networks of affine "
        "layers and piecewise-linear activations (ReLU, LeakyReLU, PReLU, ReLU6, Hardtanh, Hardsigmoid, abs, "
        "maxout, max-pooling)"
    )


# functions and tensor methods (in a traced forward) with their breakpoints
_PL_FUNCTIONS = {torch.relu: (0.0,), F.relu: (0.0,), torch.abs: (0.0,), F.relu6: (0.0, 6.0), F.leaky_relu: (0.0,), "relu": (0.0,), "abs": (0.0,)}


def _steps(model: Any, name: str = "") -> list[_Step]:
    """The model as a chain of steps: nested Sequentials flattened, other modules traced by
    torch.fx into a chain (each call's only tensor input is the previous result)."""
    if isinstance(model, nn.Sequential):
        return [s for n, m in model.named_children() for s in _steps(m, f"{name}.{n}" if name else n)]
    if not isinstance(model, nn.Module) or not any(True for _ in model.children()):
        return [_classify(name, model)]
    if isinstance(model, Act):
        return [_classify(name, model)]
    return _traced_steps(model, name)


def _traced_steps(model: nn.Module, name: str) -> list[_Step]:
    try:
        gm = fx.symbolic_trace(model)
    except Exception as exc:  # data-dependent control flow: not a chain we can follow
        raise NotPiecewiseLinearError(f"{name or '(model)'} ({type(model).__name__}) cannot be traced by torch.fx "
                                      f"({type(exc).__name__}); give regions an nn.Sequential") from None
    steps, prev = [], None
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "get_attr"):
            prev = node if node.op == "placeholder" and prev is None else prev
            continue
        if node.op == "output":
            break
        rest = [a for a in list(node.args[1:]) + list(node.kwargs.values())]
        if not node.args or node.args[0] is not prev or any(isinstance(a, fx.Node) for a in rest):
            raise NotPiecewiseLinearError(f"{name or '(model)'}: node {node.name} ({node.target}) is not a step of a chain "
                                          "(a residual add, a branch, or a shape read off the input): regions needs a chain of layers")
        label = f"{name}.{node.target}" if node.op == "call_module" and name else str(node.target)
        if node.op == "call_module":
            steps += _steps(gm.get_submodule(node.target), label)
        elif node.op in ("call_function", "call_method") and node.target in _PL_FUNCTIONS:
            steps.append(_Step("pl", f"{node.name} ({getattr(node.target, '__name__', node.target)})", _bind(node),
                               _PL_FUNCTIONS[node.target]))
        elif node.target in AFFINE_FUNCTIONS or node.op == "call_method" and node.target in AFFINE_METHODS:
            steps.append(_Step("affine", f"{node.name} ({node.target})", _bind(node)))
        else:
            raise NotPiecewiseLinearError(f"{name or '(model)'}: {node.name} ({node.target}) is not piecewise linear")
        prev = node
    return steps


def _bind(node) -> Callable[[torch.Tensor], torch.Tensor]:
    """The node's call as a function of its one tensor input (the other arguments are constants)."""
    rest, kwargs = node.args[1:], dict(node.kwargs)
    if node.op == "call_method":
        return lambda t: getattr(t, node.target)(*rest, **kwargs)
    return lambda t: node.target(t, *rest, **kwargs)


# ---------------------------------------------------------------------------- the partition


@dataclass
class _State:
    polys: list[np.ndarray]  # region r's polygon
    P: torch.Tensor  # (R, 3, *shape): the values at (0, 0), (1, 0), (0, 1) of region r's affine map
    patterns: list[torch.Tensor]  # per step that splits, (R, units) int8 pieces


def _values(P: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(k, U) flattened values of one region's map (P (3, U): its values at (0, 0), (1, 0),
    (0, 1)) at points (k, 2)."""
    return P[0][None, :] + pts @ (P[1:] - P[0])


def _intervals(step: _Step, shape) -> tuple[torch.Tensor, torch.Tensor]:
    """Per interval i of the breakpoints, every unit's slope and intercept (i, U), read off the
    activation itself at two points inside the interval."""
    b = step.breakpoints
    reps = []
    for i in range(len(b) + 1):
        lo, hi = (b[i - 1] if i else None), (b[i] if i < len(b) else None)
        if lo is None and hi is None:
            reps.append((0.0, 1.0))
        elif lo is None:
            reps.append((hi - 2.0, hi - 1.0))
        elif hi is None:
            reps.append((lo + 1.0, lo + 2.0))
        else:
            reps.append((lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3))
    pts = torch.tensor(reps, dtype=torch.float64)  # (I, 2)
    x = pts.reshape(-1, *([1] * len(shape))).expand(-1, *shape).contiguous()  # (2I, *shape)
    with torch.no_grad():
        y = step.fn(x).reshape(len(reps), 2, -1)  # (I, 2, U)
    p, q = pts[:, 0, None], pts[:, 1, None]
    slope = (y[:, 1] - y[:, 0]) / (q - p)
    return slope, y[:, 0] - slope * p


def _split_all(poly: np.ndarray, lines: list[tuple[np.ndarray, float]], min_area: float) -> list[np.ndarray]:
    """A convex polygon cut by lines (n·(a, b) + c = 0), slivers dropped."""
    pieces = [poly]
    for n, c in lines:
        nxt = []
        for piece in pieces:
            vals = piece @ n + c
            if vals.max() > 0 and vals.min() < 0:
                nxt += [p for p in _split(piece, vals) if p is not None and _area(p) > min_area]
            else:
                nxt.append(piece)
        pieces = nxt
    return pieces


def _pl_step(state: _State, step: _Step, shape, min_area: float, limit: int) -> _State:
    """Split every region where a unit crosses a breakpoint; map each piece by its units' pieces."""
    slope, intercept = _intervals(step, shape)  # (I, U)
    bps = np.asarray(step.breakpoints, dtype=np.float64)
    polys, parents, idx = [], [], []
    P_all = state.P.reshape(len(state.polys), 3, -1).numpy()  # (R, 3, U)
    for r, poly in enumerate(state.polys):
        P = P_all[r]
        z = _values(P, poly)  # (k, U) at the vertices
        lines = []
        for beta in bps:
            d = z - beta
            for j in np.nonzero((d.max(axis=0) > 0) & (d.min(axis=0) < 0))[0]:
                lines.append((P[1:, j] - P[0, j], float(P[0, j]) - beta))
        for piece in _split_all(poly, lines, min_area):
            polys.append(piece)
            parents.append(r)
            idx.append(np.searchsorted(bps, _values(P, piece.mean(axis=0, keepdims=True))[0], side="right"))
        if len(polys) > limit:
            raise TooManyRegionsError(f"more than {limit:,} regions after {step.name} (max_regions={limit:,})")
    idx_t = torch.as_tensor(np.array(idx), dtype=torch.long)  # (R', U)
    units = torch.arange(idx_t.shape[1])
    s, t = slope[idx_t, units], intercept[idx_t, units]  # (R', U)
    P = state.P[parents].reshape(len(polys), 3, -1) * s[:, None, :] + t[:, None, :]
    return _State(polys, P.reshape(len(polys), 3, *shape), [q[parents] for q in state.patterns] + [idx_t.to(torch.int8)])


def _max_step(state: _State, step: _Step, shape, min_area: float, limit: int) -> _State:
    """Split every region into the cells where one candidate of each group is the largest."""
    groups, out_shape = step.groups(tuple(shape))  # (G, K)
    valid = groups >= 0
    polys, parents, winners = [], [], []
    P_all = state.P.reshape(len(state.polys), 3, -1).numpy()  # (R, 3, U)
    groups_np, valid_np = groups.numpy(), valid.numpy()
    for r, poly in enumerate(state.polys):
        P = P_all[r]
        pieces = [poly]
        for g in _undecided_groups(P, poly, groups_np, valid_np):
            cand = groups_np[g][valid_np[g]]
            nxt = []
            for piece in pieces:
                z = _values(P[:, cand], piece)  # (k, K)
                best = int(z[0].argmax())
                if (z[:, best, None] - z >= 0).all():
                    nxt.append(piece)
                    continue
                nxt += _argmax_cells(piece, P[:, cand], min_area)
            pieces = nxt
        for piece in pieces:
            polys.append(piece)
            parents.append(r)
            z = _values(P, piece.mean(axis=0, keepdims=True))[0]
            zz = np.where(valid_np, z[np.maximum(groups_np, 0)], -np.inf)  # (G, K)
            winners.append(zz.argmax(axis=1))
        if len(polys) > limit:
            raise TooManyRegionsError(f"more than {limit:,} regions after {step.name} (max_regions={limit:,})")
    win = torch.as_tensor(np.array(winners), dtype=torch.long)  # (R', G)
    chosen = groups[torch.arange(groups.shape[0])[None, :], win]  # (R', G): the flattened index of each group's winner
    Pf = state.P[parents].reshape(len(polys), 3, -1)
    P = torch.gather(Pf, 2, chosen[:, None, :].expand(-1, 3, -1))
    return _State(polys, P.reshape(len(polys), 3, *out_shape), [q[parents] for q in state.patterns] + [win.to(torch.int8)])


def _undecided_groups(P: np.ndarray, poly: np.ndarray, groups: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The groups whose largest candidate is not the same one on the whole polygon: one
    candidate at least as large as every other at every vertex wins everywhere (the
    differences are affine)."""
    z = np.where(valid[None], _values(P, poly)[:, np.maximum(groups, 0)], -np.inf)  # (k, G, K)
    best = z[0].argmax(axis=1)  # (G,)
    zb = np.take_along_axis(z, best[None, :, None], axis=2)  # (k, G, 1)
    return np.nonzero(~((zb - z) >= 0).all(axis=(0, 2)))[0]


def _argmax_cells(poly: np.ndarray, P: np.ndarray, min_area: float) -> list[np.ndarray]:
    """The polygon clipped to each candidate's cell {z_i ≥ z_m for all m} (P (3, K))."""
    P0, A = P[0], P[1:] - P[0]
    cells = []
    for i in range(P.shape[1]):
        cell = poly
        for m in range(P.shape[1]):
            if m == i or cell is None:
                continue
            vals = cell @ (A[:, i] - A[:, m]) + (P0[i] - P0[m])
            if vals.min() < 0:
                cell = _split(cell, vals)[1] if vals.max() > 0 else None
        if cell is not None and _area(cell) > min_area:
            cells.append(cell)
    return cells


def _affine_step(state: _State, step: _Step, chunk: int = 4096) -> _State:
    R = len(state.polys)
    flat = state.P.reshape(R * 3, *state.P.shape[2:])
    with torch.no_grad():
        out = torch.cat([step.fn(flat[i : i + chunk]) for i in range(0, flat.shape[0], chunk)])
    return _State(state.polys, out.reshape(R, 3, *out.shape[1:]), state.patterns)


# ---------------------------------------------------------------------------- the public call


def _check_plane(plane) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(origin, u, v) as float64 tensors of one input's shape; None: the model's own 2 inputs."""
    if plane is None:
        eye = torch.eye(2, dtype=torch.float64)
        return torch.zeros(2, dtype=torch.float64), eye[0], eye[1]
    try:
        origin, u, v = (torch.as_tensor(np.asarray(t, dtype=np.float64)) for t in plane)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"plane must be (origin, u, v), three arrays of one input's shape; got {plane!r:.200} ({exc})") from None
    if not (origin.shape == u.shape == v.shape) or origin.numel() == 0:
        raise ValueError(f"plane's origin, u and v must have one shape (one input's), got {tuple(origin.shape)}, "
                         f"{tuple(u.shape)} and {tuple(v.shape)}")
    if not all(torch.isfinite(t).all() for t in (origin, u, v)):
        raise ValueError("plane's origin, u and v must be finite")
    return origin, u, v


def _check_bounds(bounds) -> tuple[float, float, float, float]:
    try:
        b = tuple(float(x) for x in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (a_min, a_max, b_min, b_max), got {bounds!r}") from None
    if len(b) != 4 or not all(math.isfinite(x) for x in b) or not (b[0] < b[1] and b[2] < b[3]):
        raise ValueError(f"bounds must be four finite numbers (a_min, a_max, b_min, b_max) with min < max, got {bounds!r}")
    return b


def _grid_count(steps: list[_Step], origin, u, v, bounds, side: int = _GRID, chunk: int = 4096) -> int:
    """Distinct activation patterns at the centres of a side × side grid of the box: a lower
    bound on the number of regions."""
    a = torch.linspace(bounds[0], bounds[1], 2 * side + 1, dtype=torch.float64)[1::2]
    b = torch.linspace(bounds[2], bounds[3], 2 * side + 1, dtype=torch.float64)[1::2]
    ab = torch.cartesian_prod(a, b)  # (side², 2)
    seen: set[bytes] = set()
    with torch.no_grad():
        for i in range(0, ab.shape[0], chunk):
            pts = ab[i : i + chunk]
            x = origin.reshape(1, -1) + pts[:, 0, None] * u.reshape(1, -1) + pts[:, 1, None] * v.reshape(1, -1)  # (n, d)
            x = x.reshape(-1, *origin.shape)
            codes = []
            for step in steps:
                if step.kind == "pl":
                    codes.append(torch.searchsorted(torch.tensor(step.breakpoints, dtype=torch.float64),
                                                    x.reshape(x.shape[0], -1).contiguous(), right=True).to(torch.int8))
                elif step.kind == "max":
                    groups, _ = step.groups(tuple(x.shape[1:]))
                    cand = x.reshape(x.shape[0], -1)[:, groups.clamp(min=0)].masked_fill(groups < 0, -math.inf)
                    codes.append(cand.argmax(dim=-1).to(torch.int8))
                x = step.fn(x)
            if codes:
                rows = torch.cat(codes, dim=1).numpy()
                seen.update(row.tobytes() for row in rows)
            else:
                seen.add(b"")
    return len(seen)


def _upper_bound(steps: list[_Step], shape) -> float:
    """A bound on the number of regions: a region cut by L lines has at most 1 + L + L(L−1)/2
    pieces, L = units × breakpoints of a piecewise-linear step (pairs of candidates for a max)."""
    bound, x = 1.0, torch.zeros(1, *shape, dtype=torch.float64)
    with torch.no_grad():
        for step in steps:
            if step.kind == "pl":
                L = x[0].numel() * len(step.breakpoints)
            elif step.kind == "max":
                groups, _ = step.groups(tuple(x.shape[1:]))
                k = (groups >= 0).sum(dim=1)
                L = int((k * (k - 1) // 2).sum())
            else:
                L = 0
            bound *= 1 + L + L * (L - 1) / 2
            x = step.fn(x)
    return bound


def regions(model: Any, bounds: tuple[float, float, float, float] = (-6.0, 6.0, -6.0, 6.0), *,
            plane: tuple[Any, Any, Any] | None = None, max_regions: int = 100_000) -> RegionMap:
    """The exact partition of a 2-D box into the linear regions of a piecewise-linear model.

    Args:
        model: an ``nn.Module`` (a float64 copy is used): an ``nn.Sequential`` (nested ones
            too) or a module that torch.fx traces into a chain, of affine layers (Linear,
            convolutions, eval BatchNorm, average pools, reshapes, …) and piecewise-linear
            activations (ReLU, LeakyReLU, PReLU, ReLU6, Hardtanh, Hardsigmoid, abs, actlab's
            registry activations of those kinds, maxout, MaxPool2d).
        bounds: (a_min, a_max, b_min, b_max), the box in plane coordinates.
        plane: (origin, u, v), arrays of one input's shape: the slice x = origin + a·u + b·v of
            a model with more inputs. None: the model's own two inputs, (a, b) = (x₁, x₂).
        max_regions: refuse a partition with more regions (before the work when a 256 × 256
            grid already sees more patterns).

    Raises:
        NotPiecewiseLinearError: a layer is smooth (tanh, sigmoid, GELU, …) or unknown; names it.
        TooManyRegionsError: more than ``max_regions`` regions.
    """
    t0 = time.perf_counter()
    bounds = _check_bounds(bounds)
    if not (isinstance(max_regions, int) and max_regions >= 1):
        raise ValueError(f"max_regions must be an integer ≥ 1, got {max_regions!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"regions needs a torch.nn.Module, got {type(model).__name__}")
    m64 = copy.deepcopy(model).double().eval() if any(True for _ in model.parameters()) else copy.deepcopy(model).eval()
    steps = _steps(m64)
    origin, u, v = _check_plane(plane)
    with torch.no_grad():
        try:
            out = m64(origin[None])
        except Exception as exc:
            raise ValueError(f"the model raised on one input of shape {tuple(origin.shape)} (the plane's): "
                             f"{type(exc).__name__}: {exc}") from None
    bound = _upper_bound(steps, origin.shape)
    seen = _grid_count(steps, origin, u, v, bounds) if bound > max_regions else 0
    if seen > max_regions:
        raise TooManyRegionsError(f"a {_GRID} × {_GRID} grid of the box already sees {seen:,} activation patterns, more than "
                                  f"max_regions={max_regions:,}: the partition has at least {seen:,} regions")
    box = _box(bounds)
    min_area = _SLIVER * _area(box)
    state = _State([box], torch.stack([origin, origin + u, origin + v])[None], [])
    for step in steps:
        shape = tuple(state.P.shape[2:])
        if step.kind == "affine":
            state = _affine_step(state, step)
        elif step.kind == "pl":
            state = _pl_step(state, step, shape, min_area, max_regions)
        else:
            state = _max_step(state, step, shape, min_area, max_regions)
    return _result(state, steps, bounds, seen, out, time.perf_counter() - t0)


def _result(state: _State, steps, bounds, seen: int, out: torch.Tensor, seconds: float) -> RegionMap:
    R = len(state.polys)
    P = state.P.reshape(R, 3, -1)
    if P.shape[2] != out[0].numel():  # an internal invariant: the steps are the model
        raise AssertionError(f"the regions' maps have {P.shape[2]} outputs, the model {out[0].numel()}")
    polys = [p if _area(p) > 0 else p[::-1] for p in state.polys]  # counter-clockwise
    pattern = torch.cat(state.patterns, dim=1).numpy() if state.patterns else np.zeros((R, 0), dtype=np.int8)
    return RegionMap(
        bounds=bounds, polygons=polys,
        weight=(P[:, 1:] - P[:, :1]).permute(0, 2, 1).numpy(),  # (R, d_out, 2)
        bias=P[:, 0].numpy(), pattern=pattern, area=np.array([_area(p) for p in polys]),
        layers=[f"{s.kind}: {s.name}" for s in steps], grid_count=seen, seconds=seconds,
    )
