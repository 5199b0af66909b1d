"""Where a model's nonlinearity lives: every module judged on the inputs it really received.

The model (a float64 copy) runs once on ``example_inputs`` with hooks that record a clone of
each call's inputs and output (clones: an in-place ReLU would overwrite them). A module is
then judged by the *combination test* on what it received: with X its recorded input, f(X)
its recorded output, Y = X[π] + ρσE (another row of the data, nudged by ρ = 0.1 standard
deviations of X) and a scalar α ∈ (0.2, 0.8),

    f(αX + (1−α)Y) = α f(X) + (1−α) f(Y)                     for every affine f,

two calls of the module per recorded call. Whole tensors are combined with one α, so the test
holds for affine modules that mix their batch rows too (a time-first RNN, attention over
dim 0). Per row, the segments run between data points and cross the kinks a ReLU places
between them.

Cost (a few forward passes, no per-module W unless ``module_maps``):
  * known-affine leaves (Linear, convolutions, eval BatchNorm/Dropout, average pools, reshapes,
    padding, upsampling — their forward is the library's own) are affine by construction;
  * containers (Sequential) and modules with a nonlinear child are decided by their children:
    nonlinear if one child is, without a test;
  * every other module is tested, and the whole model always is — its verdict is
    ``is_affine``; when the whole is affine ``first_nonlinear`` is None, whatever its parts
    do (a nonlinear part can cancel or saturate on these inputs: the note says so).

``first_nonlinear`` is the first owner in execution order: a module's forward is traced with
``torch.fx`` (its children as leaves) and walked node by node on the recorded values — a
nonlinear functional node (``F.relu``, ``x * y``, ``softmax``) before the first nonlinear child
is named as ``module:node``; otherwise the walk descends into that child. A module that
cannot be traced falls back to its children in call order. The map of the whole model is built
only when it is affine, linearised at the inputs' mean and certified on the inputs.

Verdicts are about the probed domain: the example inputs, the segments between them and a
ρ-neighbourhood (``AuditReport.domain`` says so).
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import operator
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ..affine import DEFAULT_MAX_BYTES, AffineMap, map_on_data, tolerance_for
from ..onnx_model import OnnxFunction, is_onnx_path
from ._report import AuditReport, ModuleRow
from ._recording import (
    RHO,
    _Call,
    _call_fn,
    _clone,
    _combination,
    _first_tensor,
    _is_float,
    _Noise,
    _record,
    _varied_input,
)

__all__ = ["ModuleRow", "AuditReport", "audit", "REASONS"]

# (when affine on the inputs, when not) per known type
REASONS: dict[type, tuple[str, str]] = {
    nn.Linear: ("affine by construction: W x + b", ""),
    nn.Bilinear: ("", "bilinear: x₁ᵀ A x₂ multiplies inputs together"),
    nn.ReLU: ("affine on these inputs: they stay on one side of the kink at 0", "piecewise linear: inputs on both sides of the kink at 0"),
    nn.ReLU6: ("affine on these inputs: they stay between the kinks at 0 and 6", "piecewise linear: kinks at 0 and 6"),
    nn.LeakyReLU: ("affine on these inputs (one side of the kink, or slope 1)", "piecewise linear: a kink at 0"),
    nn.Hardtanh: ("affine on these inputs: all inside [−1, 1] or all saturated on one side", "piecewise linear: clips at ±1"),
    nn.Hardswish: ("affine on these inputs: all below −3 or above 3", "x·relu6(x+3)/6: quadratic between −3 and 3"),
    nn.Hardsigmoid: ("affine on these inputs: they stay in one linear piece", "piecewise linear: clips at ±3"),
    nn.Tanh: ("flat to rounding on these inputs (saturated)", "smooth and saturating"),
    nn.Sigmoid: ("flat to rounding on these inputs (saturated)", "smooth and saturating"),
    nn.GELU: ("affine to rounding on these inputs", "smooth, x·Φ(x)"),
    nn.SiLU: ("affine to rounding on these inputs", "smooth, x·σ(x)"),
    nn.MaxPool1d: ("the same input wins every window here", "a max over a window picks a different input on each side of a tie"),
    nn.MaxPool2d: ("the same input wins every window here", "a max over a window picks a different input on each side of a tie"),
    nn.AdaptiveMaxPool2d: ("the same input wins every window here", "a max over a window"),
    nn.LayerNorm: ("", "divides by the input's own standard deviation: LN(2x) = LN(x)"),
    nn.GroupNorm: ("", "divides by the input's own standard deviation"),
    nn.Softmax: ("", "exponentials normalised by their sum"),
    nn.MultiheadAttention: ("", "softmax(QKᵀ) V multiplies functions of the input"),
    nn.GLU: ("", "gating: one half of the input multiplies a sigmoid of the other"),
    nn.LSTM: ("", "gates multiply sigmoids and tanhs of the input"),
    nn.GRU: ("", "gates multiply sigmoids and tanhs of the input"),
    nn.RNN: ("", "a tanh or ReLU of the state at every step"),
}

# Leaves whose forward (the library's own) is affine in the input for any weights.
_AFFINE_TYPES: tuple[type, ...] = (
    nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
    nn.Identity, nn.Flatten, nn.Unflatten, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.PixelShuffle, nn.PixelUnshuffle,
    nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d,
    nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d, nn.ReplicationPad1d, nn.ReplicationPad2d,
    nn.ReplicationPad3d, nn.Upsample, nn.ChannelShuffle,
)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def affine_by_construction(mod: nn.Module) -> str:
    """Why ``mod`` is affine whatever its input, or "" when that is not known without a test."""
    if isinstance(mod, nn.modules.batchnorm._BatchNorm):
        ok = not mod.training and mod.track_running_stats and mod.running_mean is not None
        return "eval mode: a fixed per-channel scale and shift (running statistics)" if ok and type(mod).forward is nn.modules.batchnorm._BatchNorm.forward else ""
    if isinstance(mod, nn.modules.dropout._DropoutNd):
        return "eval mode: the identity" if not mod.training else ""
    for t in _AFFINE_TYPES:
        if isinstance(mod, t) and type(mod).forward is t.forward:
            return REASONS.get(t, ("",))[0] or f"affine by construction ({t.__name__})"
    return ""


def _reason(mod: nn.Module, affine: bool) -> str:
    if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.training:
        return "training mode: normalises by the batch's own statistics"
    if isinstance(mod, nn.modules.dropout._DropoutNd) and mod.training:
        return "training mode: a random mask"
    for t in type(mod).__mro__:
        if t in REASONS and REASONS[t][0 if affine else 1]:
            return REASONS[t][0 if affine else 1]
    return "affine on these inputs" if affine else "nonlinear in its own forward code"


# ---------------------------------------------------------------------------- attribution (torch.fx)


class _Traces(dict):
    """Each module's fx trace (children as leaves), made once; None when untraceable."""

    def get(self, mod):  # type: ignore[override]
        if mod not in self:
            self[mod] = _trace(mod)
        return self[mod]


AFFINE_FUNCTIONS = {
    operator.add, operator.sub, operator.iadd, operator.isub, operator.neg, operator.pos, operator.getitem,
    torch.add, torch.sub, torch.neg, torch.cat, torch.stack, torch.flatten, torch.reshape, torch.transpose,
    torch.permute, torch.squeeze, torch.unsqueeze, torch.narrow, torch.split, torch.chunk, torch.roll,
    torch.flip, torch.movedim, torch.sum, torch.mean, torch.cumsum, torch.diagonal, torch.tril, torch.triu,
    getattr,
}
AFFINE_METHODS = {
    "add", "sub", "add_", "sub_", "neg", "view", "reshape", "flatten", "transpose", "permute", "contiguous",
    "squeeze", "unsqueeze", "expand", "expand_as", "split", "chunk", "size", "dim", "sum", "mean", "unflatten",
    "movedim", "flip", "roll", "narrow", "clone", "tril", "triu", "view_as", "reshape_as", "repeat",
}
# products and quotients: affine when at most one factor (the numerator) depends on the input
_SCALING = {operator.mul, operator.imul, operator.truediv, operator.itruediv, operator.matmul, torch.mul,
            torch.matmul, torch.bmm, torch.einsum, "mul", "mul_", "div", "div_", "matmul", "bmm"}


def _affine_code(gm) -> str:
    """If every operation of a traced forward is affine in the values that depend on the inputs
    (reshapes, sums, concatenation, scaling by constants), the list of those operations; else "".
    Decides a module without a test only when all its children are affine."""
    if gm is None:
        return ""
    varying: set = set()
    ops: list[str] = []
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            varying.add(n)
            continue
        dep = [a for a in n.all_input_nodes if a in varying]
        if n.op in ("get_attr", "output") or not dep:
            continue
        varying.add(n)
        if n.op == "call_module":
            continue
        name = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
        if n.op == "call_function" and n.target in AFFINE_FUNCTIONS or n.op == "call_method" and n.target in AFFINE_METHODS:
            ops.append(name)
        elif n.target in _SCALING and len(dep) == 1 and (n.target not in (operator.truediv, operator.itruediv, "div", "div_") or n.args[0] is dep[0]):
            ops.append(name)
        else:
            return ""
    return ", ".join(dict.fromkeys(ops)) or "no operation of its own"


class _Stop(BaseException):
    """Ends a walk early; a BaseException so that fx's Interpreter does not decorate it (its
    handler for errors imports torch._dynamo: seconds)."""


def _trace(mod: nn.Module):
    """``mod``'s own forward code as an fx graph, its children as leaves; None if untraceable."""
    import torch.fx as fx

    class ChildrenAsLeaves(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return True

    try:
        graph = ChildrenAsLeaves().trace(mod)
        return fx.GraphModule(mod, graph)
    except Exception:  # data-dependent control flow, unsupported constructs: fall back to call order
        return None


def _walk(gm, call: _Call, is_nonlinear: Callable[[nn.Module], bool], gen: _Noise, stop: bool) -> tuple[list[dict], nn.Module | None] | None:
    """Run the traced ``gm`` on ``call``'s inputs, testing each functional node on its values.
    Returns (nonlinear nodes, the first nonlinear child met before any of them, if ``stop``);
    None when the graph cannot be run on the recorded call."""
    import torch.fx as fx

    found: list[dict] = []
    first_child: list[nn.Module] = []
    varying = _varying(gm)

    class Walker(fx.Interpreter):
        extra_traceback = False  # its error decoration imports torch._dynamo

        def run_node(self, n):
            if n.op == "call_module":
                child = gm.get_submodule(n.target)
                if stop and is_nonlinear(child):
                    first_child.append(child)
                    raise _Stop
            out = super().run_node(n)
            if n.op in ("call_function", "call_method"):
                res = _test_node(n, out, self.env, gen, varying)
                if res is not None and res > 0:
                    target = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))
                    found.append({"node": n.name, "target": target, "residual": res})
                    if stop:
                        raise _Stop
            return out

    try:
        sig = inspect.signature(gm.forward)
        bound = sig.bind(*_clone(call.args), **_clone(call.kwargs))
        bound.apply_defaults()
    except TypeError:
        return None
    try:
        walker = Walker(gm)  # nodes run one by one: Interpreter.run builds a progress bar
        walker.env, walker.args_iter = {}, iter(bound.arguments.values())
        with torch.no_grad():
            for node in gm.graph.nodes:
                walker.env[node] = walker.run_node(node)
    except _Stop:
        pass
    except Exception:  # the graph does not run on these values (e.g. varargs): fall back
        return None
    return found, (first_child[0] if first_child else None)


def _varying(gm) -> set:
    """The nodes whose values depend on the graph's inputs: the rest (weights reached by get_attr,
    what is computed from them alone) are constants of the model, never data to vary."""
    varying: set = set()
    for n in gm.graph.nodes:
        if n.op == "placeholder" or any(a in varying for a in n.all_input_nodes):
            varying.add(n)
    return varying


def _test_node(n, out: Any, env: dict, gen: _Noise, varying: set) -> float | None:
    """Residual of node ``n`` (value ``out``) over its floating tensor inputs that depend on the
    graph's inputs when it is nonlinear there, 0 when affine, None when it has none (or cannot be
    re-run)."""
    import torch.fx as fx

    inputs = [a for a in n.all_input_nodes if a in varying and _is_float(env.get(a))]
    if not inputs or not _is_float(out):
        return None
    xs = [env[a] for a in inputs]

    def fn(*vals):
        sub = dict(zip(inputs, vals))
        a2 = fx.node.map_arg(n.args, lambda a: sub.get(a, env.get(a)))
        k2 = fx.node.map_arg(n.kwargs, lambda a: sub.get(a, env.get(a)))
        if n.op == "call_function":
            return n.target(*a2, **k2)
        return getattr(a2[0], n.target)(*a2[1:], **k2)

    try:
        res, tol = _combination(fn, xs, out, gen)
    except Exception:  # a node that does not run on other values (shape-dependent): no verdict
        return None
    return res if res > tol else 0.0


# ---------------------------------------------------------------------------- audit


def audit(
    model: nn.Module,
    example_inputs: Any,
    seed: int = 0,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    module_maps: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> AuditReport:
    """Judge every module of ``model`` on the inputs it received; see the module docstring.

    Args:
        model: a ``torch.nn.Module`` (a float64 copy is audited; the model is not modified), or
            an ONNX file's path (judged node by node: ``actlab.analysis.onnx_audit``).
        example_inputs: a batch (N ≥ 2, ...) the model accepts.
        max_bytes: the whole model's map is built when it is affine and its float64 W fits
            this; a larger map is reported in ``note``, not built.
        module_maps: also build each tested affine module's map on its inputs (costly).
        progress: called as ``progress(done, total, label)`` while modules are tested.
    """
    if is_onnx_path(model) or isinstance(model, OnnxFunction):
        from .onnx_audit import audit_onnx

        return audit_onnx(model, example_inputs, seed, max_bytes=max_bytes, progress=progress)
    t_start = time.perf_counter()
    if not isinstance(model, nn.Module):
        raise TypeError(f"audit needs a torch.nn.Module or the path of an .onnx file, got {type(model).__name__}")
    x = torch.as_tensor(example_inputs)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(f"example_inputs must be a batch of at least 2 inputs (N, ...), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"example_inputs must be floating point (the combination test mixes inputs), got {x.dtype}")
    x = x.to(torch.float64)
    m64 = copy.deepcopy(model).to(torch.float64)
    names = {mod: name for name, mod in m64.named_modules()}
    by_construction = {mod: affine_by_construction(mod) for mod in m64.modules()}
    calls, order, _ = _record(m64, x, keep=lambda m: m is m64 or not (by_construction[m] or isinstance(m, _CONTAINERS)))
    gen = _Noise(seed)
    gen.normal(torch.Size([max((_varied_input(c).numel() for cs in calls.values() for c in cs), default=1)]), torch.float64)
    children = _called_children(order, names)
    traces = _Traces()

    verdicts, tested = _decide(order, m64, by_construction, children, calls, traces, names, gen, progress)

    def nonlinear(m: nn.Module) -> bool:
        return verdicts[m].affine is False if m in verdicts else False

    owners, nodes, unattributed = _attribute(order, verdicts, tested, children, calls, traces, names, gen, nonlinear)
    is_affine = verdicts[m64].affine is True
    note, build_map = _whole_model(m64, x, order, verdicts, owners, calls, names, max_bytes)
    first = None if is_affine else _first(m64, calls, children, nonlinear, names, gen, nodes, traces)
    maps = {m: _module_map(m, calls[m][0], max_bytes) for m in tested if verdicts[m].affine and calls.get(m)} if module_maps else {}
    rows = _rows(order, m64, verdicts, tested, owners, nodes, names, maps)
    return AuditReport(
        rows=rows, is_affine=is_affine, first_nonlinear=first, nodes=nodes, unattributed=unattributed,
        residual=verdicts[m64].residual,
        tolerance=verdicts[m64].tolerance or tolerance_for(torch.float64), build_map=build_map,
        domain=(f"the {x.shape[0]} example inputs as each module received them, the segments between them and a "
                f"{RHO:g}-standard-deviation neighbourhood (combination test, float64 copy)"),
        note=note, seconds=time.perf_counter() - t_start,
    )


@dataclass
class _Verdict:
    """One module's verdict: affine (None: undecided), the test's residual and tolerance when it
    was tested, and why."""

    affine: bool | None
    residual: float | None = None
    tolerance: float | None = None
    why: str = ""


def _decide(order, m64, by_construction, children, calls, traces, names, gen, progress) -> tuple[dict, set]:
    """Every called module's verdict, children before parents: known-affine leaves by
    construction, a module with a nonlinear child by that child, containers and affine code by
    composition, the rest (and the whole model, always) by the combination test."""
    verdicts: dict[nn.Module, _Verdict] = {}
    tested: set[nn.Module] = set()
    to_test = [m for m in order if m is m64 or not (by_construction[m] or isinstance(m, _CONTAINERS))]
    done = 0
    for mod in reversed(order):  # children before parents
        kids = children[mod]
        if by_construction[mod]:
            verdicts[mod] = _Verdict(True, why=by_construction[mod])
            continue
        if mod is not m64 and any(verdicts[c].affine is False for c in kids if c in verdicts):
            verdicts[mod] = _Verdict(False, why="contains a nonlinear module (decided by its children, not tested)")
            continue
        if isinstance(mod, _CONTAINERS) and mod is not m64:
            undecided = any(c not in verdicts or verdicts[c].affine is None for c in kids)
            verdicts[mod] = _Verdict(None if undecided else True,
                                     why="a composition of its children" + (" (some undecided)" if undecided else ", all affine"))
            continue
        if progress is not None:
            progress(done, len(to_test), names.get(mod) or "(model)")
        done += 1
        if mod is not m64 and _has_own_code(mod) and all(c in verdicts and verdicts[c].affine is True for c in kids):
            code = _affine_code(traces.get(mod))
            if code:  # affine children combined by affine code: affine, no test (the whole model is always tested)
                verdicts[mod] = _Verdict(True, why=f"a composition of affine children by affine code ({code})" if kids
                                         else f"affine code ({code})")
                continue
        verdicts[mod] = _Verdict(*_judge(mod, calls.get(mod, []), gen))
        if verdicts[mod].affine is not None:
            tested.add(mod)
    if progress is not None:
        progress(len(to_test), len(to_test), "attribution")
    return verdicts, tested


def _attribute(order, verdicts, tested, children, calls, traces, names, gen, nonlinear) -> tuple[list, list, list]:
    """The owners of nonlinearity (tested nonlinear modules with no nonlinear child), the traced
    nodes inside those with forward code of their own, and what could not be attributed."""
    owners = [m for m in order if verdicts[m].affine is False and m in tested and not any(nonlinear(c) for c in children[m])]
    nodes: list[dict] = []
    unattributed: list[str] = []
    for mod in owners:
        if _has_own_code(mod):
            found = _nodes_of(traces.get(mod), calls[mod][0], nonlinear, gen) if calls.get(mod) else None
            if found:
                nodes += [{"module": names[mod], **n} for n in found]
            elif children[mod] or type(mod).__module__.split(".")[0] != "torch":
                unattributed.append(
                    f"{names[mod] or '(model)'}: nonlinear code in forward"
                    + (" (torch.fx could not trace it)" if found is None else " (no single traced node explains it)")
                )
    return owners, nodes, unattributed


def _whole_model(m64, x, order, verdicts, owners, calls, names, max_bytes) -> tuple[str, Any]:
    """The report's note on the whole model, and the deferred build of its map (when affine and
    within ``max_bytes``)."""
    notes, build_map = [], None
    graph_of_ops = isinstance(m64, torch.fx.GraphModule) and not any(n.op == "call_module" for n in m64.graph.nodes)
    if len(order) == 1 and any(True for _ in m64.children()) and not graph_of_ops:  # an exported graph's modules only hold weights
        notes.append("its modules took no hooks (TorchScript?): only the whole model was tested")
    if verdicts[m64].affine is None:  # never reported affine without a verdict
        notes.append(f"the whole model could not be judged ({verdicts[m64].why}): not called affine")
    is_affine = verdicts[m64].affine is True
    bad = [names[m] for m in owners if m is not m64]
    if is_affine and bad:
        notes.append(f"the whole model is affine on these inputs although {', '.join(bad[:3])}{' …' if len(bad) > 3 else ''} "
                     "is not: its nonlinearity cancels, saturates or does not reach the output here")
    if is_affine and calls.get(m64):
        out = calls[m64][0].output
        n_bytes = math.prod(x.shape[1:]) * math.prod(out.shape[1:]) * 8
        if n_bytes > max_bytes:
            notes.append(f"map not built: its float64 W would take {n_bytes / 2**30:.2f} GiB, above max_bytes="
                         f"{max_bytes / 2**30:.2f} GiB")
        else:
            build_map = functools.partial(map_on_data, m64, x, out, max_bytes=max_bytes)
    return "; ".join(notes), build_map


def _rows(order, m64, verdicts, tested, owners, nodes, names, maps) -> list[ModuleRow]:
    rows = []
    for mod in order:
        v = verdicts.get(mod, _Verdict(None))
        owns = mod in owners
        reason = v.why
        if mod in tested:
            own = [f"{n['node']} ({n['target']})" for n in nodes if n["module"] == names[mod]]
            if v.affine:
                reason = _reason(mod, True)
            elif owns:
                reason = _reason(mod, False) + (f": {', '.join(own)}" if own else "")
            else:
                reason = "contains a nonlinear module (tested as a whole too)"
        rows.append(ModuleRow(
            name=names.get(mod, "?"), type=type(mod).__name__, affine=v.affine, residual=v.residual,
            tolerance=v.tolerance, owns_nonlinearity=owns, reason=reason, tested=mod in tested,
            depth=0 if mod is m64 else names[mod].count(".") + 1, map=maps.get(mod),
        ))
    return rows


def _called_children(order: list[nn.Module], names: dict) -> dict[nn.Module, list[nn.Module]]:
    """Each called module's called children, in first-call order: a module's parent is its
    nearest called ancestor (a ModuleList is never called, so ``blocks.0`` belongs to the model)."""
    by_name = {names[m]: m for m in order}
    out: dict[nn.Module, list[nn.Module]] = {m: [] for m in order}
    for m in order:
        name = names[m]
        if not name:
            continue
        parent = name.rpartition(".")[0]
        while parent not in by_name:
            parent = parent.rpartition(".")[0]
        out[by_name[parent]].append(m)
    return out


def _judge(mod: nn.Module, mod_calls: list[_Call], gen: _Noise) -> tuple[bool | None, float | None, float | None, str]:
    if not mod_calls:
        return None, None, None, "not decided: no floating-point tensor input recorded"
    worst, tol = 0.0, None
    for call in mod_calls:
        try:
            res, t = _combination(_call_fn(mod, call), [_varied_input(call)], call.output, gen)
        except Exception as exc:  # the module refuses the probe (shape checks, integer logic): no verdict
            return None, None, None, f"not decided: it raised on a probe ({type(exc).__name__}: {str(exc)[:80]})"
        if not math.isfinite(res):
            return None, None, None, "not decided: non-finite outputs on the probe"
        tol = t if tol is None else max(tol, t)
        worst = max(worst, res)
    return worst <= tol, worst, tol, ""


def _has_own_code(mod: nn.Module) -> bool:
    return not isinstance(mod, _CONTAINERS) and (type(mod).__module__.split(".")[0] != "torch" or any(True for _ in mod.children()))


def _nodes_of(gm, call, nonlinear, gen) -> list[dict] | None:
    if gm is None:
        return None
    got = _walk(gm, call, nonlinear, gen, stop=False)
    return None if got is None else got[0]


def _first(mod, calls, children, nonlinear, names, gen, nodes, traces) -> str:
    """The first owner of a nonlinearity inside ``mod`` in execution order (see module docstring)."""
    label = names[mod]
    if children[mod] and not isinstance(mod, _CONTAINERS) and calls.get(mod):
        gm = traces.get(mod)
        got = _walk(gm, calls[mod][0], nonlinear, gen, stop=True) if gm is not None else None
        if got is not None:
            found, child = got
            if found:
                if not any(n["module"] == label and n["node"] == found[0]["node"] for n in nodes):
                    nodes.append({"module": label, **found[0]})
                return f"{label}:{found[0]['node']}" if label else found[0]["node"]
            if child is not None:
                return _first(child, calls, children, nonlinear, names, gen, nodes, traces)
    kids = [c for c in children[mod] if nonlinear(c)]
    if kids:  # call order (children[mod] follows first calls)
        return _first(kids[0], calls, children, nonlinear, names, gen, nodes, traces)
    own = [n for n in nodes if n["module"] == label]
    return (f"{label}:{own[0]['node']}" if label else own[0]["node"]) if own else label


def _module_map(mod: nn.Module, call: _Call, max_bytes: int) -> AffineMap | None:
    x = _varied_input(call)
    if x.ndim < 2 or x.shape[0] < 2:
        return None
    fn = _call_fn(mod, call)
    try:
        return map_on_data(lambda z: _first_tensor(fn(z)), x, call.output, max_bytes=max_bytes)
    except ValueError:  # too large, or not a batch-first function: no map for this module
        return None
