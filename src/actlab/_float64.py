"""A float64 copy of a model, made cheaply: what collapse, fold and the certificates run."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["float64_copy"]


def float64_copy(model: nn.Module, device) -> nn.Module:
    """A float64 copy without gradients: leaves are shallow copies with new parameter and buffer
    dicts (a deepcopy of a whole Sequential costs milliseconds — more than the reverse pass it
    prepares); modules with children are copied deeply."""
    if isinstance(model, nn.Sequential):
        return nn.Sequential(*(float64_copy(m, device) for m in model))
    if any(True for _ in model.children()):
        return copy.deepcopy(model).to(dtype=torch.float64, device=device).requires_grad_(False)
    out = copy.copy(model)
    out._parameters = {
        k: None if v is None else nn.Parameter(v.detach().to(device=device, dtype=torch.float64), requires_grad=False)
        for k, v in model._parameters.items()
    }
    out._buffers = {  # copies even where no conversion is needed: BatchNorm in training mode updates its buffers
        k: None if v is None else v.to(device=device, dtype=torch.float64 if v.is_floating_point() else v.dtype, copy=True)
        for k, v in model._buffers.items()
    }
    return out
