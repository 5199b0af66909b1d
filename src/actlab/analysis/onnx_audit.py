"""Where an ONNX graph's nonlinearity lives: every node judged by the combination test.

The graph runs once in onnxruntime on the example inputs with every intermediate value exposed
as an output. Each node is then run alone (a one-node graph holding the initializers it reads)
on what it received, X, and judged as ``audit`` judges a module:

    node(αX + (1−α)Y) = α node(X) + (1−α) node(Y),     Y = X[π] + ρσE,  α ∈ (0.2, 0.8)

with every input that depends on the graph input's *values* varied together and the others
(weights, constants, shapes) held. The whole graph is tested the same way and gives
``is_affine``; ``first_nonlinear`` is the first nonlinear node in graph order, named by the torch
module it came from when the file says so (torch.onnx's exporter writes each node's module
path in its metadata, ``pkg.torch.onnx.name_scopes``), else by the node's name.
At the graph's own precision: float32 for most files, tolerances follow.

A graph exported with a fixed batch (``torch.onnx.export(model, torch.randn(1, …))`` fixes it
at 1) takes any number of example inputs: the graph, and each node alone, run in slices of its
batch, and the recorded values are put back together along the batch axis.
"""

from __future__ import annotations

import ast
import functools
import math
import time
from typing import Any, Callable

import numpy as np
import torch

from .._tolerance import tolerance_for
from ..affine import DEFAULT_MAX_BYTES, map_on_data
from ..onnx_model import OnnxFunction, _import, batch_slices, load, session
from ._recording import RHO, _combination, _Noise
from ._report import AuditReport, ModuleRow

__all__ = ["audit_onnx", "ONNX_REASONS"]

# why a node is nonlinear, per op type (when it is found so)
ONNX_REASONS = {
    "Relu": "piecewise linear: inputs on both sides of the kink at 0",
    "LeakyRelu": "piecewise linear: a kink at 0",
    "PRelu": "piecewise linear: a kink at 0",
    "Clip": "piecewise linear: clips",
    "HardSigmoid": "piecewise linear: clips",
    "HardSwish": "x·relu6(x+3)/6: quadratic between −3 and 3",
    "MaxPool": "a max over a window picks a different input on each side of a tie",
    "Max": "a max picks a different input on each side of a tie",
    "Min": "a min picks a different input on each side of a tie",
    "Tanh": "smooth and saturating",
    "Sigmoid": "smooth and saturating",
    "Gelu": "smooth, x·Φ(x)",
    "Erf": "smooth and saturating",
    "Softmax": "exp(x) / Σ exp(x)",
    "LayerNormalization": "divides by the input's own standard deviation",
    "LSTM": "gates multiply sigmoids and tanhs of the input",
    "GRU": "gates multiply sigmoids and tanhs of the input",
    "Mul": "a product of two functions of the input",
    "MatMul": "a product of two functions of the input",
    "Div": "divides by a function of the input",
    "Pow": "a power of the input",
    "Sqrt": "a square root of the input",
    "Exp": "an exponential of the input",
    "Abs": "piecewise linear: a kink at 0",
}
_SHAPE_OPS = {"Shape", "Size"}  # their outputs do not depend on the input's values


def _owner(node) -> str:
    """The torch module a node came from (torch.onnx's metadata), a module's functional code as
    ``module:op``, or the node's own name."""
    meta = {p.key: p.value for p in node.metadata_props}
    try:
        scopes = ast.literal_eval(meta["pkg.torch.onnx.name_scopes"])
        classes = ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
    except (KeyError, ValueError, SyntaxError):
        return node.name or node.op_type
    if len(scopes) < 2:
        return node.name or node.op_type
    module, cls = scopes[-2], (classes[-2] if len(classes) >= 2 else "")
    if cls.startswith("torch.nn.") and module:  # a library layer: the module is the owner
        return module
    return f"{module}:{scopes[-1]}" if module else scopes[-1]


def _record(f: OnnxFunction, x: np.ndarray, dep: set[str], batch: int | None) -> dict[str, np.ndarray]:
    """Every value of the graph on ``x``: its input, initializers, and each node's outputs. With
    a fixed ``batch`` (not x's), the graph runs in slices: the values that depend on the input
    are joined along their first axis (one whose first axis is not the batch is left out: its
    nodes are reported as not recorded), the others are the same in every slice."""
    onnx, _ = _import()
    m = onnx.ModelProto()
    m.CopyFrom(f.proto)
    try:
        inferred = onnx.shape_inference.infer_shapes(m)
    except Exception:
        inferred = m
    typed = {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.output)}
    have = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for out in node.output:
            if out and out not in have and out in typed:
                m.graph.output.append(typed[out])
                have.add(out)
    names = [o.name for o in m.graph.output]
    sess = session(m)
    if batch is None:
        values = dict(zip(names, sess.run(names, {f.input_name: x})))
    else:
        parts = [sess.run(names, {f.input_name: xs[0]}) for xs in batch_slices([x], batch)]
        values = {}
        for k, name in enumerate(names):
            first = parts[0][k]
            if name not in dep:
                values[name] = first
            elif first.ndim and first.shape[0] == batch:
                values[name] = np.concatenate([p[k] for p in parts])[: x.shape[0]]
    values[f.input_name] = x
    for init in m.graph.initializer:
        values[init.name] = onnx.numpy_helper.to_array(init)
    return values


def _value_dependent(f: OnnxFunction) -> set[str]:
    """Names of the values that change when the input's values change."""
    dep = {f.input_name}
    for node in f.proto.graph.node:
        if node.op_type not in _SHAPE_OPS and any(i in dep for i in node.input):
            dep.update(o for o in node.output if o)
    return dep


def _node_runner(f: OnnxFunction, node, values: dict, varied: list[str], batch: int | None) -> Callable[..., torch.Tensor]:
    """The node alone as a function of its varied inputs (the others held at their recorded
    values); with a fixed ``batch``, run in slices of it."""
    onnx, _ = _import()
    h = onnx.helper
    fixed = [i for i in node.input if i and i not in varied]
    shape = (lambda n: None) if batch else (lambda n: values[n].shape)
    inputs = [h.make_tensor_value_info(n, h.np_dtype_to_tensor_dtype(values[n].dtype), shape(n)) for n in varied]
    inits = [onnx.numpy_helper.from_array(values[n], n) for n in dict.fromkeys(fixed)]
    outputs = [h.make_tensor_value_info(node.output[0], h.np_dtype_to_tensor_dtype(values[node.output[0]].dtype), None)]
    graph = h.make_graph([node], "one_node", inputs, outputs, initializer=inits)
    model = h.make_model(graph, opset_imports=f.proto.opset_import, ir_version=f.proto.ir_version)
    sess = session(model, threads=1)

    def run(*xs: torch.Tensor) -> torch.Tensor:
        arrays = [x.numpy().astype(values[n].dtype, copy=False) for n, x in zip(varied, xs)]
        if batch is None:
            return torch.from_numpy(sess.run(None, dict(zip(varied, arrays)))[0])
        outs = [sess.run(None, dict(zip(varied, part)))[0] for part in batch_slices(arrays, batch)]
        return torch.from_numpy(np.concatenate(outs)[: arrays[0].shape[0]])

    return run


def _judge_node(f, node, values, dep, gen, batch) -> tuple[bool | None, float | None, float | None, str]:
    out = node.output[0] if node.output else ""
    if out not in values or out not in dep:
        return None, None, None, "not tested: its output does not depend on the input's values" if out in values else "not tested: its output was not recorded"
    if not np.issubdtype(values[out].dtype, np.floating):
        return None, None, None, f"not tested: {values[out].dtype} output"
    varied = [i for i in dict.fromkeys(node.input) if i in dep and np.issubdtype(values[i].dtype, np.floating)]
    if not varied:
        return None, None, None, "not tested: no floating-point input that depends on the input's values"
    if any(n not in values for n in varied):
        return None, None, None, "not tested: an input was not recorded (its first axis is not the graph's batch)"
    try:
        fn = _node_runner(f, node, values, varied, batch)
        xs = [torch.from_numpy(np.array(values[n])) for n in varied]
        res, tol = _combination(fn, xs, torch.from_numpy(np.array(values[out])), gen)
    except Exception as exc:  # the node refuses to run alone (subgraphs, shape checks): no verdict
        return None, None, None, f"not decided: it raised when run alone ({type(exc).__name__}: {str(exc)[:80]})"
    if not math.isfinite(res):
        return None, None, None, "not decided: non-finite outputs on the probe"
    affine = res <= tol
    return affine, res, tol, ("affine on these inputs" if affine else ONNX_REASONS.get(node.op_type, "nonlinear"))


ROUNDING = 1 / 64  # below tolerance × this, a whole-graph residual is rounding (a float32 graph: 1.9e-6)


def _whole_verdict(res: float, tol: float, bad: list[str]) -> tuple[bool, list[str]]:
    """The whole graph's verdict from its combination residual and the nonlinear nodes.

    Most ONNX graphs run in float32, whose tolerance (1.2e-4) is above the output residual of
    a nonlinearity that reaches the output weakly (a MobileNet's hardswish: 7e-5 in float64).
    So a residual between rounding and the tolerance is not taken as affine while a node is
    nonlinear; at rounding level, the nodes' nonlinearity cancels or does not reach the output."""
    listed = f"{', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}"
    if res > tol:
        return False, []
    if not bad:
        return True, []
    if res <= tol * ROUNDING:
        return True, [f"the whole graph is affine on these inputs although {listed} is not: its nonlinearity "
                      "cancels, saturates or does not reach the output here"]
    return False, [f"the whole graph's residual {res:.2g} is below the tolerance {tol:.2g} of its precision but above "
                   f"rounding ({tol * ROUNDING:.2g}), and {listed} is nonlinear: not called affine"]


def audit_onnx(
    model: str | OnnxFunction,
    example_inputs: Any,
    seed: int = 0,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int, int, str], None] | None = None,
) -> AuditReport:
    """Judge every node of an ONNX graph on the values it received; see the module docstring.

    Args:
        model: the path of an ``.onnx`` file, or an ``actlab.onnx_model.OnnxFunction``.
        example_inputs: a batch (N ≥ 2, *in_shape); a graph with a fixed batch runs it in slices.
        max_bytes: the whole graph's map is built (on first access of ``map``) when it is affine
            and its float64 W fits this.
        progress: called as ``progress(done, total, label)`` while nodes are tested.
    """
    t_start = time.perf_counter()
    f = model if isinstance(model, OnnxFunction) else load(model)
    x = torch.as_tensor(example_inputs)
    if x.ndim < 2 or x.shape[0] < 2 or not x.is_floating_point():
        raise ValueError(f"example_inputs must be a floating-point batch of at least 2 inputs (N, ...), got "
                         f"shape {tuple(x.shape)} of {x.dtype}")
    if tuple(x.shape[1:]) != f.in_shape:
        raise ValueError(f"example_inputs have shape {tuple(x.shape)}; the graph expects (N, *{f.in_shape})")
    batch = f.fixed_batch if f.fixed_batch not in (None, x.shape[0]) else None  # run in slices of the graph's batch
    xn = x.numpy().astype(f.np_dtype)
    dep = _value_dependent(f)
    values = _record(f, xn, dep, batch)
    gen = _Noise(seed)
    nodes = list(f.proto.graph.node)
    rows, first, first_node = [], None, None
    for k, node in enumerate(nodes):
        if progress:
            progress(k, len(nodes), node.name or node.op_type)
        affine, res, tol, why = _judge_node(f, node, values, dep, gen, batch)
        owner = _owner(node)
        rows.append(ModuleRow(name=node.name or f"{node.op_type}_{k}", type=node.op_type, affine=affine, residual=res,
                              tolerance=tol, owns_nonlinearity=affine is False, reason=why, tested=res is not None,
                              depth=1, source=owner))
        if affine is False and first is None:
            first, first_node = owner, node.name
    if progress:
        progress(len(nodes), len(nodes), "the whole graph")
    xt = torch.from_numpy(xn)
    fx = f(xt)
    whole_res, whole_tol = _combination(f, [xt], fx, gen)
    bad = [r.name for r in rows if r.affine is False]
    is_affine, notes = _whole_verdict(whole_res, whole_tol, bad)
    build_map = None
    if is_affine:
        n_bytes = math.prod(f.in_shape) * math.prod(fx.shape[1:]) * 8
        if n_bytes > max_bytes:
            notes.append(f"map not built: its float64 W would take {n_bytes / 2**30:.2f} GiB, above max_bytes")
        else:
            build_map = functools.partial(map_on_data, f, x.double(), fx.double(), max_bytes=max_bytes)
    root = ModuleRow(name="", type=f"ONNX graph ({len(nodes)} nodes)", affine=is_affine, residual=whole_res,
                     tolerance=whole_tol, owns_nonlinearity=not is_affine and first is None,
                     reason="affine on these inputs" if is_affine else "nonlinear", tested=True, depth=0)
    return AuditReport(
        rows=[root, *rows], is_affine=is_affine, first_nonlinear=None if is_affine else (first or ""),
        nodes=[{"node": first_node, "target": next(r.type for r in rows if r.name == first_node), "module": first,
                "residual": next(r.residual for r in rows if r.name == first_node)}] if first_node and not is_affine else [],
        residual=whole_res, tolerance=whole_tol or tolerance_for(f.dtype), build_map=build_map,
        domain=(f"the {x.shape[0]} example inputs as each node received them, the segments between them and a "
                f"{RHO:g}-standard-deviation neighbourhood (combination test, onnxruntime, "
                f"{str(f.dtype).removeprefix('torch.')})"),
        note="; ".join(notes), seconds=time.perf_counter() - t_start,
    )
