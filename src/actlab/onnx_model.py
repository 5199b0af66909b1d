"""Models from ONNX files, run with onnxruntime: what ``collapse``, ``check_affine`` and ``audit``
take when given a path ending in ``.onnx``.

    f = actlab.onnx_model.load("model.onnx")   # an OnnxFunction: batches in, batches out
    f.in_shape, f.dtype                         # one input's shape from the graph, its precision
    actlab.collapse("model.onnx", f.in_shape)   # the same, from the path

An ``OnnxFunction`` is a plain callable on batches (numpy or torch, any batch size: a graph
exported with a fixed batch is run in slices of that size), so every test that works on a black
box works on it, at the graph's own precision (float32 for most files: tolerances follow).
Needs the optional extra ``pip install 'actlab[onnx]'`` (onnx and onnxruntime).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["OnnxFunction", "load", "is_onnx_path", "batch_slices", "MISSING_EXTRA"]

MISSING_EXTRA = "reading ONNX files needs the optional extra: pip install 'actlab[onnx]' (onnx and onnxruntime)"

# ONNX TensorProto element types → numpy dtypes (the floating ones the tests can vary, and ints)
_NP_TYPES = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}


def is_onnx_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike)) and str(x).lower().endswith(".onnx")


def _import():
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise ImportError(MISSING_EXTRA) from None
    return onnx, onnxruntime


def session(model_proto, threads: int = 0):
    """An onnxruntime CPU session of ``model_proto`` (graph optimisations off: the nodes run as
    written, so that what is judged is the file's own graph)."""
    _, ort = _import()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3  # errors only: no warnings about unused initializers
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model_proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def graph_inputs(model_proto) -> list:
    """The graph's real inputs (old IR versions list the initializers among them too)."""
    inits = {i.name for i in model_proto.graph.initializer}
    return [i for i in model_proto.graph.input if i.name not in inits]


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in value_info.type.tensor_type.shape.dim]


class OnnxFunction:
    """An ONNX graph with one input as a callable on batches (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        onnx, _ = _import()
        self.path = str(path)
        if not Path(self.path).is_file():
            raise ValueError(f"no such ONNX file: {self.path!r}")
        try:
            self.proto = onnx.load(self.path)
            onnx.checker.check_model(self.proto)
        except Exception as exc:
            raise ValueError(f"{self.path!r} is not a valid ONNX model: {type(exc).__name__}: {exc}") from None
        inputs = graph_inputs(self.proto)
        if len(inputs) != 1:
            raise ValueError(f"{self.path!r}: expected a graph with one input, got {len(inputs)} "
                             f"({', '.join(i.name for i in inputs)})")
        self.input_name = inputs[0].name
        elem = inputs[0].type.tensor_type.elem_type
        if elem not in (1, 10, 11):
            raise ValueError(f"{self.path!r}: expected a floating-point input, got ONNX element type {elem}")
        self.np_dtype = _NP_TYPES[elem]
        self.dtype = {np.float32: torch.float32, np.float16: torch.float16, np.float64: torch.float64}[self.np_dtype]
        dims = _dims(inputs[0])
        if not dims or any(not isinstance(d, int) for d in dims[1:]):
            raise ValueError(f"{self.path!r}: the input's shape {dims} must be (batch, fixed sizes…)")
        self.in_shape = tuple(dims[1:])
        self.fixed_batch = dims[0] if isinstance(dims[0], int) else None
        self.output_names = [o.name for o in self.proto.graph.output]
        self._session = None

    @property
    def session(self):
        if self._session is None:
            self._session = session(self.proto)
        return self._session

    def run(self, x: np.ndarray) -> np.ndarray:
        """The graph's first output on a numpy batch."""
        x = np.ascontiguousarray(x, dtype=self.np_dtype)
        if self.fixed_batch is None or x.shape[0] == self.fixed_batch:
            return self.session.run(self.output_names[:1], {self.input_name: x})[0]
        outs = [self.session.run(self.output_names[:1], {self.input_name: xs[0]})[0] for xs in batch_slices([x], self.fixed_batch)]
        return np.concatenate(outs)[: x.shape[0]]

    def __call__(self, x: Any) -> Any:
        """Batches in, batches out: a torch tensor gives a torch tensor (in the graph's dtype)."""
        if isinstance(x, torch.Tensor):
            return torch.from_numpy(self.run(x.detach().cpu().numpy()))
        return self.run(np.asarray(x))

    def __repr__(self) -> str:
        return (f"OnnxFunction({self.path!r}, in_shape={self.in_shape}, dtype={str(self.dtype).removeprefix('torch.')}, "
                f"{len(self.proto.graph.node)} nodes)")


def batch_slices(arrays: list[np.ndarray], batch: int):
    """The rows of ``arrays`` (the same count N each) in slices of ``batch`` rows, the last one
    padded with zeros: how a graph exported with a fixed batch runs any N (the caller keeps the
    first N rows of what the slices give)."""
    n = arrays[0].shape[0]
    pad = (-n) % batch
    padded = [np.concatenate([a, np.zeros((pad, *a.shape[1:]), dtype=a.dtype)]) if pad else a for a in arrays]
    for i in range(0, n + pad, batch):
        yield [a[i : i + batch] for a in padded]


def load(path: str | os.PathLike) -> OnnxFunction:
    """An ONNX file as an ``OnnxFunction``; ``ValueError`` naming what is wrong with the file."""
    return OnnxFunction(path)


def as_callable(model_or_fn: Any) -> Any:
    """``model_or_fn`` itself, or an ``OnnxFunction`` when it is the path of an ONNX file."""
    return load(model_or_fn) if is_onnx_path(model_or_fn) else model_or_fn
