"""Structure-preserving folding: merge adjacent affine layers of nn.Sequential models.

Rules (each exact; a pair that does not meet its conditions is left as it was, and the
report says why):

  Linear₂ ∘ Linear₁            W = W₂W₁, b = W₂b₁ + b₂ (a Flatten of a 2-D tensor between
                               them is dropped; Identity, actlab's identity activation and
                               eval-mode Dropout anywhere)
  BatchNorm(eval) ∘ Conv/Linear   W' = γ/√(σ²+ε) · W, b' = γ/√(σ²+ε) · (b − μ) + β
  Conv₂ ∘ Conv₁ (2-D)          kernel = the full convolution of the two kernels, placed with
                               the first's dilation d₁ and the second's step s₁d₂: extent
                               d₁(k₁−1) + s₁d₂(k₂−1) + 1, stride s₁s₂, padding p₁,
                               bias b₂ + Σ W₂·b₁ — exact only when the second conv does not
                               pad (zero padding of an intermediate map is not a convolution
                               of the input) and neither is grouped
  AvgPool2d                    a convolution with weights 1/k² per channel (no padding,
                               floor mode), so that it can merge with a neighbouring conv

Nested Sequentials are folded recursively. The folded model's outputs equal the original's
(a float64 check on the example inputs is part of the report).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .._folding import FoldReport, _fold_seq
from . import run_with_pre_hooks

__all__ = ["FoldReport", "fold", "fold_with_report"]


def _count(m: nn.Module) -> int:
    return sum(1 for x in m.modules() if not isinstance(x, nn.Sequential) and not any(True for _ in x.children()))


def fold_with_report(model: nn.Module, example_inputs: Any) -> tuple[nn.Module, FoldReport]:
    """The folded model and what was merged (see the module docstring)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"fold needs a torch.nn.Module, got {type(model).__name__}")
    x = torch.as_tensor(example_inputs)
    if x.ndim < 2:
        raise ValueError(f"example_inputs must be a batch (N, ...), got shape {tuple(x.shape)}")
    x = x.to(next(model.parameters(), torch.zeros(())).dtype)
    report = FoldReport(layers_before=_count(model))
    work = copy.deepcopy(model)
    if isinstance(work, nn.Sequential):
        folded, _ = _fold_seq(work, report, "", x)
    else:  # fold the Sequentials inside, in place
        folded = work
        outputs: dict[str, torch.Tensor] = {}
        run_with_pre_hooks(
            work,
            x,
            [
                (m, lambda mod, args, kwargs, name=name: outputs.__setitem__(name, args[0]))
                for name, m in work.named_modules()
                if isinstance(m, nn.Sequential)
            ],
        )
        outermost = [n for n in outputs if not any(n.startswith(o + ".") for o in outputs if o != n)]
        for name in outermost:
            inp = outputs[name]
            parent_name, _, child = name.rpartition(".")
            parent = work.get_submodule(parent_name) if parent_name else work
            new, _ = _fold_seq(getattr(parent, child), report, f"{name}.", inp)
            setattr(parent, child, new)
    report.layers_after = _count(folded)
    a, b = copy.deepcopy(model).double(), copy.deepcopy(folded).double()
    with torch.no_grad():
        ya, yb = a(x.double()), b(x.double())
    report.max_rel_error = float((ya - yb).abs().max() / ya.abs().max().clamp_min(1e-300))
    return folded, report


def fold(model: nn.Module, example_inputs: Any) -> nn.Module:
    """Merge adjacent affine layers; the report is at ``folded.fold_report``."""
    folded, report = fold_with_report(model, example_inputs)
    folded.fold_report = report
    return folded
