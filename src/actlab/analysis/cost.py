"""What a model costs to run: multiply-adds per sample and parameters.

Multiply-adds are counted on the aten operations that run (a ``TorchDispatchMode``), so modules,
functional calls and the graphs of torch.export archives count alike (``nn.Linear``, ``F.linear``
and ``aten.linear`` all reach ``addmm`` or ``mm``):

    mm, addmm, bmm, baddbmm          output elements · the contracted dimension
    convolution                      output elements · (in_channels / groups) · kernel size
    convolution, transposed          input elements · (out_channels / groups) · kernel size
    batch norm (eval)                one per element (a scale and a shift)

Everything else (activations, additions, pooling, softmax) is not counted: these are the
operations folding can remove. ``torch.utils.flop_counter`` counts more, but its first use
imports torch._dynamo and sympy (about 2 s).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["count_macs", "n_parameters"]

_aten = torch.ops.aten
_MM = {_aten.mm.default, _aten.bmm.default}
_ADD_MM = {_aten.addmm.default, _aten.baddbmm.default}
_BATCH_NORM = {_aten._native_batch_norm_legit_no_training.default, _aten.native_batch_norm.default,
               _aten._native_batch_norm_legit.no_stats, _aten._native_batch_norm_legit.default}


def _macs(func, args, out) -> int:
    if func in _MM:
        return out.numel() * args[0].shape[-1]
    if func in _ADD_MM:
        return out.numel() * args[1].shape[-1]
    if func is _aten.convolution.default:
        x, w, transposed = args[0], args[1], args[6]
        if transposed:
            return x.numel() * w.shape[1] * math.prod(w.shape[2:])
        return out.numel() * w.shape[1] * math.prod(w.shape[2:])
    if func in _BATCH_NORM:
        return args[0].numel()
    return 0


class _Counter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.macs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        if isinstance(first, torch.Tensor):
            self.macs += _macs(func, args, first)
        return out


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
