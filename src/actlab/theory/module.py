"""``actlab.kernel``: the infinite-width NNGP and NTK of a torch module's architecture.

The module is read as a graph (``_plan``, torch.fx); every width (features, channels, hidden
units) goes to infinity, every weight has variance σ_w²/fan_in and every bias σ_b² (the NTK
parameterisation of ``actlab.ntk``; neural-tangents' ``W_std = √σ_w²``, ``b_std = √σ_b²``), and
the covariance of each layer's output follows from its input's (``_layers``, ``_recurrent``).
On a stack of Linear layers and activations the result is ``actlab.nngp`` / ``actlab.ntk``.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import torch
from torch import nn

from ._checks import VarianceOverflowError, check_batch, check_sigma
from ._layers import activation, add, pool, scale, tie, weight_layer
from ._plan import Op, plan
from ._recurrent import recurrent
from ._state import Cov, centre, input_state, readout

__all__ = ["kernel", "Kernels", "GETS"]

Kernels = namedtuple("Kernels", ["nngp", "ntk"])
GETS = ("nngp", "ntk")


def _check_get(get: Any) -> tuple[str, ...]:
    wants = (get,) if isinstance(get, str) else tuple(get) if isinstance(get, (tuple, list)) else None
    if not wants or any(w not in GETS for w in wants):
        raise ValueError(f"get: expected 'nngp', 'ntk' or a tuple of them, got {get!r}")
    return wants


def _data(x: Any, label: str, like: torch.Tensor | None, like_label: str = "x1") -> torch.Tensor:
    return check_batch(x, label, like=like, like_label=like_label, dense=False)


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    return model


def _finite(state: Cov, op: Op, every: bool = False) -> None:
    """Raise if a variance (or, with ``every``, any entry) left float64 at ``op``: the variances
    bound the kernel (|k₁₂| ≤ √(q₁q₂)), so the grids are checked once, at the end."""
    for key, (t, _) in state.tensors().items():
        if key in ("cross", "ntk") and not every:
            continue
        if t is not None and t.numel() and not bool(torch.isfinite(t).all()):
            raise VarianceOverflowError(f"{op.node.name}: the {'NTK' if key == 'ntk' else 'variance'} leaves float64 at this layer "
                                        "(a signal growing without bound): ask for a smaller sigma_w2 or fewer layers")


def _rnn(op: Op, state: Cov, sigma_w2: float, sigma_b2: float, want_ntk: bool) -> Cov:
    p = op.params
    radius = op.radius if op.size else (0,)
    for layer in range(p["layers"]):
        state = recurrent(state, p["activation"], sigma_w2, p["biases"] * sigma_b2, radius, want_ntk, (op.node.name, layer))
    return state if op.size else _last(state)


def _last(state: Cov) -> Cov:
    """A sequence's last step, as a dense state."""
    r = state.radius
    return state.map(lambda t, nb: centre(t, nb, r)[..., -1], size=(), radius=(), flat=False)


def _step(op: Op, values: dict, sigma_w2: float, sigma_b2: float, want_ntk: bool) -> Cov:
    src = values[op.inputs[0]] if op.inputs else None
    kind = op.kind
    if kind == "weight":
        bias = sigma_b2 if op.params["bias"] else 0.0
        conv = op.params["conv"]
        return weight_layer(src if conv else readout(src), sigma_w2, bias, conv, op.radius, op.node.name)
    if kind == "pool":
        p = op.params
        return pool(src, p["window"], p["stride"], p["padding"], p["size"], op.radius)
    if kind == "act":
        return activation(src, op.params["activation"])
    if kind == "add":
        return add(src, values[op.inputs[1]], op.radius, op.node.name)
    if kind == "scale":
        return scale(src, op.params["factor"])
    if kind == "flatten":
        return src.map(lambda t, nb: t, flat=bool(src.size))
    if kind == "rnn":
        return _rnn(op, src, sigma_w2, sigma_b2, want_ntk)
    if kind in ("same", "final"):
        return src
    if kind == "last":
        return _last(src)
    if kind == "mean":
        dims = lambda nb: tuple(range(nb, nb + 2 * len(src.size)))  # noqa: E731 — every offset and position
        return tie(src.map(lambda t, nb: t.sum(dims(nb)) / float(np.prod(src.size)) ** 2, size=(), radius=(), flat=False,
                           fresh=src.fresh))
    raise AssertionError(kind)


def kernel(model: nn.Module, x1: Any, x2: Any = None, *, get: Any = GETS, sigma_w2: Any = 1.0, sigma_b2: Any = 0.0):
    """The NNGP and NTK of ``model``'s architecture at infinite width, between inputs ``x1``
    (n1, …) and ``x2`` (n2, …; None: x1 against itself), shaped as the model takes them.

    ``get`` a tuple: a ``Kernels`` named tuple (``.nngp``, ``.ntk``; None where not asked) from one
    pass; a string: that kernel alone, (n1, n2) float64 on x1's device. The weights of the module
    do not matter, only its layers and their settings: every weight matrix has variance
    σ_w²/fan_in and every bias vector σ_b² (a layer without bias has none; ``nn.RNN``'s two
    biases add). ValueError naming the module for a layer the kernel has no rule for."""
    model = _check_model(model)
    wants = _check_get(get)
    sigma_w2 = check_sigma("sigma_w2", sigma_w2, zero_ok=False)
    sigma_b2 = check_sigma("sigma_b2", sigma_b2, zero_ok=True)
    device = x1.device if isinstance(x1, torch.Tensor) else torch.device("cpu")
    a = _data(x1, "x1", None)
    b = None if x2 is None else _data(x2, "x2", a)
    param = next(model.parameters(), None)
    example = a[:1].to(param.dtype if param is not None and param.is_floating_point() else torch.float32)
    order, last = plan(model, example)
    if order[0].params.get("flatten"):
        a, b = a.reshape(len(a), -1), (None if b is None else b.reshape(len(b), -1))
    want_ntk = "ntk" in wants
    values = {order[0].node: tie(input_state(a, b, order[0].layout, order[0].radius))}
    for op in order[1:]:
        state = _step(op, values, sigma_w2, sigma_b2, want_ntk)
        _finite(state, op)
        values[op.node] = state
    out = values[last.node]
    _finite(out, last, every=True)
    out = readout(out) if out.size else out
    nngp = out.cross.to(device)
    ntk = (torch.zeros_like(out.cross) if out.ntk is None else out.ntk).to(device) if want_ntk else None
    if isinstance(get, str):
        return nngp if get == "nngp" else ntk
    return Kernels(nngp if "nngp" in wants else None, ntk)
