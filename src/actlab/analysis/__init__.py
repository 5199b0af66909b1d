"""Analysis of real models: where nonlinearity hides (audit), folding affine stacks (fold)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import nn


def run_with_hooks(
    model: nn.Module,
    x: torch.Tensor,
    hooks: Iterable[tuple[nn.Module, Callable]],
    post_hooks: Iterable[tuple[nn.Module, Callable]] = (),
) -> Any:
    """Run ``model(x)`` once without gradients, with forward pre-hooks and forward hooks (both
    with kwargs; modules that refuse hooks, like TorchScript ones, are skipped), then remove
    them; return the output. A model that raises becomes a ValueError naming the input shape."""
    handles = []
    for register, pairs in (("register_forward_pre_hook", hooks), ("register_forward_hook", post_hooks)):
        for mod, hook in pairs:
            try:
                handles.append(getattr(mod, register)(hook, with_kwargs=True))
            except Exception:  # TorchScript modules take no hooks
                pass
    try:
        with torch.no_grad():
            return model(x)
    except Exception as exc:
        raise ValueError(f"the model raised on example inputs of shape {tuple(x.shape)}: {type(exc).__name__}: {exc}") from None
    finally:
        for h in handles:
            h.remove()
