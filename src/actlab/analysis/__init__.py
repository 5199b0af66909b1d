"""Analysis of real models: where nonlinearity hides (audit), folding affine stacks (fold)."""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn


def run_with_pre_hooks(model: nn.Module, x: torch.Tensor, hooks: Iterable[tuple[nn.Module, Callable]]) -> None:
    """Run ``model(x)`` once with forward pre-hooks (modules that refuse hooks, like TorchScript
    ones, are skipped), then remove them; a model that raises becomes a ValueError naming the
    input shape."""
    handles = []
    for mod, hook in hooks:
        try:
            handles.append(mod.register_forward_pre_hook(hook, with_kwargs=True))
        except Exception:  # TorchScript modules take no hooks
            pass
    try:
        with torch.no_grad():
            model(x)
    except Exception as exc:
        raise ValueError(f"the model raised on example inputs of shape {tuple(x.shape)}: {type(exc).__name__}: {exc}") from None
    finally:
        for h in handles:
            h.remove()
