"""What a model costs to run: multiply-adds per sample and parameters.

Multiply-adds are counted at the level of torch functions, so modules, functional calls and the
aten operations of a torch.export graph count alike (``nn.Linear``, ``F.linear`` and
``aten.linear`` all reach ``linear``):

    linear                       output elements · in_features
    conv1d/2d/3d                 output elements · (in_channels / groups) · kernel size
    conv_transpose1d/2d/3d       input elements · (out_channels / groups) · kernel size
    matmul, mm, bmm, addmm, …    output elements · the contracted dimension
    batch_norm (eval)            one per element (a scale and a shift)

Everything else (activations, additions, pooling, softmax) is not counted: these are the
operations folding can remove. ``torch.utils.flop_counter`` counts more, but its first use
imports torch._dynamo and sympy (about 2 s); a ``TorchFunctionMode`` sees the same calls.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["count_macs", "n_parameters"]


def _contracted(func, args) -> int:
    if func in _ADD_MM:
        return args[1].shape[-1]
    return args[0].shape[-1]


_aten = torch.ops.aten  # a torch.export graph calls these: the mode sees them as it sees torch's functions
_LINEAR = {torch._C._nn.linear, F.linear, _aten.linear.default}
_CONV = {torch.conv1d, torch.conv2d, torch.conv3d, F.conv1d, F.conv2d, F.conv3d,
         _aten.conv1d.default, _aten.conv2d.default, _aten.conv3d.default}
_CONV_T = {torch.conv_transpose1d, torch.conv_transpose2d, torch.conv_transpose3d,
           F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d,
           _aten.conv_transpose1d.default, _aten.conv_transpose2d.input, _aten.conv_transpose3d.input}
_MATMUL = {torch.matmul, torch.mm, torch.bmm, torch.addmm, torch.baddbmm, torch.Tensor.matmul, torch.Tensor.__matmul__,
           torch.Tensor.mm, torch.Tensor.bmm, torch.Tensor.addmm, torch.Tensor.baddbmm,
           _aten.matmul.default, _aten.mm.default, _aten.bmm.default, _aten.addmm.default, _aten.baddbmm.default}
_ADD_MM = {torch.addmm, torch.baddbmm, torch.Tensor.addmm, torch.Tensor.baddbmm, _aten.addmm.default, _aten.baddbmm.default}
_BATCH_NORM = {F.batch_norm, _aten.batch_norm.default}


class _Counter(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.macs = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            self.macs += _macs(func, args, kwargs or {}, out)
        return out


def _macs(func, args, kwargs, out: torch.Tensor) -> int:
    if func in _LINEAR:
        w = args[1] if len(args) > 1 else kwargs["weight"]
        return out.numel() * w.shape[1]
    if func in _CONV:
        w = args[1] if len(args) > 1 else kwargs["weight"]
        return out.numel() * w.shape[1] * math.prod(w.shape[2:])
    if func in _CONV_T:
        w = args[1] if len(args) > 1 else kwargs["weight"]
        return args[0].numel() * w.shape[1] * math.prod(w.shape[2:])
    if func in _MATMUL:
        return out.numel() * _contracted(func, args)
    if func in _BATCH_NORM:
        return out.numel()
    return 0


def count_macs(model: nn.Module, example_inputs: Any) -> int:
    """Multiply-adds of one forward pass of ``model`` per sample (the batch's total / its size)."""
    x = torch.as_tensor(example_inputs)
    counter = _Counter()
    with torch.no_grad(), counter:
        model(x)
    return round(counter.macs / max(1, x.shape[0]))


def n_parameters(model: nn.Module) -> int:
    """Parameters of ``model`` (each shared tensor once)."""
    return sum(p.numel() for p in model.parameters())
