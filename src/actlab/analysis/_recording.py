"""What audit measures: each module's calls recorded (clones of inputs and outputs), and the
combination test on them.

With X a recorded input, f(X) its recorded output, Y = X[π] + ρσE (another row of the data,
nudged by ρ = 0.1 standard deviations of X) and one scalar α ∈ (0.2, 0.8):

    f(αX + (1−α)Y) = α f(X) + (1−α) f(Y)                     for every affine f

— whole tensors, so that modules that mix their batch rows are judged correctly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.utils._pytree import tree_map

from .._tolerance import relative_error, tolerance_for
from . import run_with_hooks

RHO = 0.1  # the neighbourhood probed around the data, in standard deviations of each module's input


# ---------------------------------------------------------------------------- the test


def _first_tensor(out: Any) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):  # ModelOutput-like
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _is_float(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.is_floating_point()


def _precision(*tensors: torch.Tensor) -> torch.dtype:
    return min((t.dtype for t in tensors if t.is_floating_point()), key=lambda d: torch.finfo(d).bits, default=torch.float64)


class _Noise:
    """Standard normal noise from one seeded generator, drawn once into a buffer and served as
    windows at random offsets (drawing float64 normals costs more than the tests themselves)."""

    def __init__(self, seed: int):
        self.gen = torch.Generator().manual_seed(seed)
        self.buffer = torch.empty(0, dtype=torch.float64)

    def normal(self, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
        n = math.prod(shape)
        if self.buffer.numel() < n:
            self.buffer = torch.randn(max(n, 4096), generator=self.gen, dtype=torch.float64)
        start = int(torch.randint(self.buffer.numel() - n + 1, (), generator=self.gen))
        return self.buffer[start : start + n].view(shape).to(dtype)


def _combination(fn: Callable[..., Any], xs: list[torch.Tensor], fx: torch.Tensor, gen: "_Noise") -> tuple[float, float]:
    """The combination test of ``fn`` at the recorded inputs ``xs`` (output ``fx``): two calls.
    Returns (relative residual, tolerance for the precision observed)."""
    n = xs[0].shape[0] if xs[0].ndim else 1
    same_rows = all(x.ndim and x.shape[0] == n for x in xs)
    perm = torch.randperm(n, generator=gen.gen) if same_rows and n > 1 else None
    ys = []
    for x in xs:
        sigma = float(x.double().std()) if x.numel() > 1 else 0.0
        sigma = sigma if math.isfinite(sigma) and sigma > 0 else max(float(x.double().abs().max()), 1.0)
        e = gen.normal(x.shape, x.dtype)
        ys.append((x if perm is None else x[perm]) + RHO * sigma * e)
    alpha = 0.2 + 0.6 * float(torch.rand((), generator=gen.gen, dtype=torch.float64))
    zs = [alpha * x + (1 - alpha) * y for x, y in zip(xs, ys)]
    with torch.no_grad():
        fy = _first_tensor(fn(*ys))
        fz = _first_tensor(fn(*zs))
    if fy is None or fz is None or fy.shape != fx.shape or fz.shape != fx.shape:
        raise ValueError("the output's shape depends on the input's values")
    tol = tolerance_for(_precision(*xs, fx, fy, fz))
    fx, fy, fz = fx.double(), fy.double(), fz.double()
    err = fz - alpha * fx - (1 - alpha) * fy
    scale = torch.stack([fz.abs().max(), alpha * fx.abs().max(), (1 - alpha) * fy.abs().max()]) if fz.numel() else fz
    return relative_error(err, scale), tol


# ---------------------------------------------------------------------------- recording


@dataclass
class _Call:
    args: tuple
    kwargs: dict
    varied: list[tuple[str, Any]]  # where the varied input sits: ("arg", i) / ("kwarg", k), all aliases of it
    output: torch.Tensor | None = None


def _clone(v: Any) -> Any:
    return tree_map(lambda t: t.detach().clone() if isinstance(t, torch.Tensor) else t, v)


def _varied_slots(args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    """The first floating tensor argument, and every other argument that is the same object
    (self-attention's query = key = value)."""
    first = next((a for a in (*args, *kwargs.values()) if _is_float(a)), None)
    if first is None:
        return []
    return [("arg", i) for i, a in enumerate(args) if a is first] + [("kwarg", k) for k, a in kwargs.items() if a is first]


def _call_fn(mod: nn.Module, call: _Call) -> Callable[[torch.Tensor], Any]:
    def fn(x: torch.Tensor) -> Any:
        args, kwargs = list(_clone(call.args)), dict(_clone(call.kwargs))
        for kind, key in call.varied:
            if kind == "arg":
                args[key] = x.clone()
            else:
                kwargs[key] = x.clone()
        return mod(*args, **kwargs)

    return fn


def _varied_input(call: _Call) -> torch.Tensor:
    kind, key = call.varied[0]
    return call.args[key] if kind == "arg" else call.kwargs[key]


def _record(model: nn.Module, x: torch.Tensor, keep: Callable[[nn.Module], bool]) -> tuple[dict, list, Any]:
    """Run ``model(x)`` once; return {module: [calls]}, modules in first-call order, and the output.
    Only modules that ``keep`` have their inputs and outputs cloned."""
    calls: dict[nn.Module, list[_Call]] = {}
    order: list[nn.Module] = []
    stack: list[tuple[nn.Module, _Call | None]] = []

    def pre(mod, args, kwargs):
        if mod not in calls:
            calls[mod] = []
            order.append(mod)
        call = None
        if keep(mod):
            varied = _varied_slots(args, kwargs)
            call = _Call(_clone(args), _clone(kwargs), varied) if varied else None
        stack.append((mod, call))

    def post(mod, args, kwargs, out):
        m, call = stack.pop()
        if call is not None:
            call.output = _clone(_first_tensor(out))
            if call.output is not None:
                calls[m].append(call)

    mods = list(model.modules())
    out = run_with_hooks(model, x, [(m, pre) for m in mods], [(m, post) for m in mods])
    if model not in calls:  # the model took no hooks (TorchScript): it is judged as a whole
        calls[model] = [_Call((x,), {}, [("arg", 0)], _clone(_first_tensor(out)))]
        order.insert(0, model)
    return calls, order, out
