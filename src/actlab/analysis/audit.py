"""Where a model's nonlinearity lives: every module tested on the inputs it really received.

The model (a float64 copy) runs once on ``example_inputs`` with forward hooks; each called
module is then tested with ``check_affine`` on the inputs it received plus perturbed copies
x + σ·ε (σ the inputs' standard deviation), which straddle the kinks near the data. A module
*owns* a nonlinearity when it is nonlinear while every child it called is affine: the
nonlinearity is in its own forward code (an activation module, a max-pool, or functional
calls such as ``F.relu`` or ``x * y`` inside ``forward``). Such forward code is traced with
``torch.fx`` and each call node is tested on the values it computed, to name the node; when
tracing fails the nonlinearity is reported as unattributed, never as affine.

Verdicts are about the probed domain (the example inputs and their perturbations).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..affine import AffineMap, check_affine, tolerance_for
from . import run_with_pre_hooks

__all__ = ["ModuleRow", "AuditReport", "audit", "REASONS"]

# a short reason per known type: (when affine, when not)
REASONS: dict[type, str] = {
    nn.Linear: "affine by construction: W x + b",
    nn.Conv1d: "affine by construction: a convolution plus a bias",
    nn.Conv2d: "affine by construction: a convolution plus a bias",
    nn.ConvTranspose2d: "affine: a transposed convolution is a linear map",
    nn.Bilinear: "bilinear: x₁ᵀ A x₂ multiplies inputs together",
    nn.ReLU: "piecewise linear: a kink at 0",
    nn.LeakyReLU: "piecewise linear unless the slope is 1",
    nn.Tanh: "smooth and saturating",
    nn.Sigmoid: "smooth and saturating",
    nn.GELU: "smooth, x·Φ(x)",
    nn.MaxPool1d: "a max over a window picks a different input on each side of a tie",
    nn.MaxPool2d: "a max over a window picks a different input on each side of a tie",
    nn.AdaptiveMaxPool2d: "a max over a window",
    nn.AvgPool1d: "a fixed average: linear",
    nn.AvgPool2d: "a fixed average: linear",
    nn.AdaptiveAvgPool2d: "a fixed average: linear",
    nn.LayerNorm: "divides by the input's own standard deviation: LN(2x) = LN(x)",
    nn.GroupNorm: "divides by the input's own standard deviation",
    nn.Softmax: "exponentials normalised by their sum",
    nn.MultiheadAttention: "softmax(QKᵀ) V multiplies functions of the input",
    nn.GLU: "gating: one half of the input multiplies a sigmoid of the other",
    nn.Flatten: "a reshape: linear",
    nn.Identity: "the identity",
    nn.Upsample: "nearest or bilinear interpolation: fixed weights, linear",
    nn.PixelShuffle: "a permutation of entries: linear",
}


def _reason(mod: nn.Module, owns_or_affine: bool) -> str:
    if isinstance(mod, nn.modules.batchnorm._BatchNorm):
        return (
            "eval mode: a fixed per-channel scale and shift (running statistics)"
            if not mod.training
            else "training mode: normalises by the batch's own statistics"
        )
    if isinstance(mod, nn.Dropout):
        return "eval mode: the identity" if not mod.training else "training mode: a random mask"
    for t in type(mod).__mro__:
        if t in REASONS:
            return REASONS[t]
    if isinstance(mod, (nn.Sequential, nn.ModuleList)):
        return "a composition of its children"
    return "nonlinear in its own forward code"


@dataclass(frozen=True)
class ModuleRow:
    name: str  # qualified name ("" is the whole model)
    type: str
    affine: bool | None  # None: not tested (see reason)
    residual: float | None
    tolerance: float | None
    owns_nonlinearity: bool  # nonlinear while all its called children are affine
    reason: str

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        if d["residual"] is not None and not math.isfinite(d["residual"]):
            d["residual"] = None
        return d


@dataclass(frozen=True)
class AuditReport:
    rows: list[ModuleRow]
    is_affine: bool
    first_nonlinear: str | None  # qualified name of the first module owning a nonlinearity (or "name:node")
    nodes: list[dict] = field(default_factory=list)  # torch.fx nodes found nonlinear inside forward code
    unattributed: list[str] = field(default_factory=list)  # nonlinear forward code no node explains
    residual: float = 0.0  # the whole model's
    tolerance: float = 0.0
    map: AffineMap | None = field(default=None, repr=False)  # the collapsed model when affine

    def to_dict(self) -> dict:
        return {
            "is_affine": self.is_affine,
            "first_nonlinear": self.first_nonlinear,
            "residual": self.residual if math.isfinite(self.residual) else None,
            "tolerance": self.tolerance,
            "modules": [r.to_dict() for r in self.rows],
            "nodes": self.nodes,
            "unattributed": self.unattributed,
            "map": None if self.map is None else self.map.to_dict(),
        }


def _first_tensor(out: Any) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def _probe_inputs(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The received batch, and perturbed copies that straddle nearby kinks."""
    g = torch.Generator().manual_seed(seed)
    scale = x.std().clamp_min(1e-3) if x.numel() > 1 else torch.tensor(1.0, dtype=x.dtype)
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
    return torch.cat([x, x + scale * noise, x - scale * noise])


def _module_fn(mod: nn.Module, args: tuple, kwargs: dict):
    """The module as a function of its first tensor argument (other tensor arguments that are
    the same object follow it: self-attention's q = k = v)."""
    first = args[0]

    def fn(x):
        new = tuple(x if a is first else a for a in args)
        out = mod(*new, **kwargs)
        return _first_tensor(out)

    return fn


def audit(model: nn.Module, example_inputs: Any, seed: int = 0, n_pairs: int = 64) -> AuditReport:
    """Test every module of ``model`` on the inputs it received; see the module docstring."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"audit needs a torch.nn.Module, got {type(model).__name__}")
    x = torch.as_tensor(example_inputs)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"example_inputs must be a batch of at least 2 inputs (N, ...), got shape {tuple(x.shape)}")
    x = x.to(torch.float64)
    m64 = copy.deepcopy(model).to(torch.float64)
    names = {mod: name for name, mod in m64.named_modules()}
    calls: dict[nn.Module, tuple] = {}
    order: list[nn.Module] = []

    def hook(mod, args, kwargs):
        if mod not in calls and args and isinstance(args[0], torch.Tensor) and args[0].ndim >= 1:
            calls[mod] = (args, kwargs)
            order.append(mod)

    run_with_pre_hooks(m64, x, [(m, hook) for m in m64.modules()])

    tol = tolerance_for(torch.float64)
    verdict: dict[nn.Module, tuple[bool | None, float | None]] = {}
    for mod in order:
        args, kwargs = calls[mod]
        inp = args[0].detach()
        if inp.shape[0] != x.shape[0]:  # not batch-first (e.g. a module fed a transposed sequence)
            verdict[mod] = (None, None)
            continue
        try:
            with torch.no_grad():
                c = check_affine(_module_fn(mod, args, kwargs), inputs=_probe_inputs(inp, seed), seed=seed, n_pairs=n_pairs)
            verdict[mod] = (c.is_affine, c.residual)
        except Exception:
            verdict[mod] = (None, None)

    rows, owners = [], []
    for mod in order:
        affine, residual = verdict[mod]
        children = [c for c in mod.children() if c in verdict]
        owns = affine is False and all(verdict[c][0] is not False for c in children)
        if owns:
            owners.append(mod)
        rows.append(
            ModuleRow(
                name=names.get(mod, "?"),
                type=type(mod).__name__,
                affine=affine,
                residual=residual,
                tolerance=tol,
                owns_nonlinearity=owns,
                reason=(
                    "not tested: input is not batch-first"
                    if affine is None
                    else _reason(mod, True)
                    if affine or owns
                    else "contains a nonlinear module"
                ),
            )
        )
    whole_affine, whole_res = verdict.get(m64, (None, None))
    if whole_affine is None:  # the root is always called; a failure to test it is reported as not affine
        whole_affine = False
    nodes, unattributed = [], []
    for mod in owners:
        if any(True for _ in mod.children()):  # forward code beyond its children
            found = _fx_nodes(mod, calls[mod], seed, n_pairs)
            if found is None or not found:
                unattributed.append(
                    f"{names.get(mod) or '(model)'}: nonlinear code in forward"
                    + (" (torch.fx could not trace it)" if found is None else " (no single traced node explains it)")
                )
            else:
                nodes += [{"module": names.get(mod, ""), **n} for n in found]
    first = None
    if owners:
        mod = owners[0]
        first = names.get(mod, "")
        inner = [n for n in nodes if n["module"] == first]
        if inner:
            first = f"{first}:{inner[0]['node']}" if first else inner[0]["node"]
    amap = None
    if whole_affine:
        from ..affine import collapse

        amap = collapse(model, in_shape=tuple(x.shape[1:]), strict=False, seed=seed)
    return AuditReport(
        rows=rows,
        is_affine=bool(whole_affine),
        first_nonlinear=first,
        nodes=nodes,
        unattributed=unattributed,
        residual=float(whole_res) if whole_res is not None else math.inf,
        tolerance=tol,
        map=amap,
    )


def _fx_nodes(mod: nn.Module, call: tuple, seed: int, n_pairs: int) -> list[dict] | None:
    """Trace ``mod`` with torch.fx and test each call node on the values it computed; None if
    it cannot be traced."""
    import torch.fx as fx

    args, kwargs = call
    if kwargs or len(args) != 1:
        return None
    try:
        gm = fx.symbolic_trace(mod)
    except Exception:
        return None
    values: dict[str, Any] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            values[n.name] = out
            return out

    try:
        with torch.no_grad():
            Recorder(gm).run(args[0])
    except Exception:
        return None
    found = []
    for n in gm.graph.nodes:
        if n.op not in ("call_function", "call_method"):
            continue
        tensor_args = [a for a in n.args if isinstance(a, fx.Node) and isinstance(values.get(a.name), torch.Tensor)]
        if not tensor_args:
            continue
        inputs = [values[a.name] for a in tensor_args]
        if any(t.shape[:1] != inputs[0].shape[:1] for t in inputs):
            continue
        shapes = [t.shape[1:] for t in inputs]
        sizes = [math.prod(s) for s in shapes]
        joined = torch.cat([t.reshape(t.shape[0], -1) for t in inputs], dim=1).double()

        def fn(z, n=n, tensor_args=tensor_args, shapes=shapes, sizes=sizes):
            parts = torch.split(z, sizes, dim=1)
            env = {a.name: p.reshape(p.shape[0], *s) for a, p, s in zip(tensor_args, parts, shapes)}
            a2 = fx.node.map_arg(n.args, lambda a: env.get(a.name, values.get(a.name)))
            k2 = fx.node.map_arg(n.kwargs, lambda a: env.get(a.name, values.get(a.name)))
            if n.op == "call_function":
                out = n.target(*a2, **k2)
            else:
                out = getattr(a2[0], n.target)(*a2[1:], **k2)
            return _first_tensor(out)

        try:
            c = check_affine(fn, inputs=_probe_inputs(joined, seed), seed=seed, n_pairs=n_pairs)
        except Exception:
            continue
        if not c.is_affine:
            target = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
            found.append({"node": n.name, "target": target, "residual": c.residual})
    return found
