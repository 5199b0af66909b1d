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
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import run_with_pre_hooks

__all__ = ["FoldReport", "fold", "fold_with_report"]


@dataclass
class FoldReport:
    merged: list[str] = field(default_factory=list)  # what was merged into what
    left: list[str] = field(default_factory=list)  # adjacent pairs left alone, and why
    layers_before: int = 0
    layers_after: int = 0
    max_rel_error: float | None = None  # folded vs original on the example inputs, float64

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _transparent(m: nn.Module) -> bool:
    """Modules that compute the identity (and so vanish)."""
    from ..nets import Act

    if isinstance(m, Act):
        return m.spec.is_affine  # actlab's identity ("linear") activation
    return isinstance(m, nn.Identity) or (isinstance(m, nn.Dropout) and not m.training)


def _linear_linear(a: nn.Linear, b: nn.Linear) -> nn.Linear:
    out = nn.Linear(a.in_features, b.out_features, dtype=a.weight.dtype, device=a.weight.device)
    with torch.no_grad():
        out.weight.copy_(b.weight @ a.weight)
        ba = a.bias if a.bias is not None else torch.zeros(a.out_features, dtype=a.weight.dtype)
        bb = b.bias if b.bias is not None else torch.zeros(b.out_features, dtype=b.weight.dtype)
        out.bias.copy_(b.weight @ ba + bb)
    return out


def _with_bn(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    out = copy.deepcopy(layer)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps) if bn.affine else 1 / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        out.weight.mul_(scale.reshape(-1, *([1] * (out.weight.ndim - 1))))
        bias = layer.bias if layer.bias is not None else torch.zeros_like(bn.running_mean)
        if out.bias is None:
            out.bias = nn.Parameter(torch.zeros_like(bn.running_mean))
        out.bias.copy_(scale * (bias - bn.running_mean) + shift)
    return out


def _avgpool_as_conv(p: nn.AvgPool2d, channels: int, like: torch.Tensor) -> nn.Conv2d | None:
    k, s = _pair(p.kernel_size), _pair(p.stride if p.stride is not None else p.kernel_size)
    if _pair(p.padding) != (0, 0) or p.ceil_mode or p.divisor_override is not None:
        return None
    conv = nn.Conv2d(channels, channels, k, stride=s, bias=True, dtype=like.dtype, device=like.device)
    with torch.no_grad():
        conv.weight.zero_()
        idx = torch.arange(channels)
        conv.weight[idx, idx] = 1.0 / (k[0] * k[1])
        conv.bias.zero_()
    return conv


def _conv_conv(a: nn.Conv2d, b: nn.Conv2d) -> tuple[nn.Conv2d | None, str]:
    if a.groups != 1 or b.groups != 1:
        return None, "grouped convolutions are not merged"
    if _pair(b.padding) != (0, 0) or isinstance(b.padding, str):
        return None, "the second conv pads its input: padded borders are not a convolution of the first's input"
    if isinstance(a.padding, str) or a.padding_mode != "zeros":
        return None, "the first conv's padding mode is not plain zeros"
    (k1h, k1w), (k2h, k2w) = a.kernel_size, b.kernel_size
    (s1h, s1w), (s2h, s2w) = a.stride, b.stride
    (d1h, d1w), (d2h, d2w) = a.dilation, b.dilation
    eh, ew = d1h * (k1h - 1) + s1h * d2h * (k2h - 1) + 1, d1w * (k1w - 1) + s1w * d2w * (k2w - 1) + 1
    w1, w2 = a.weight, b.weight  # (m, i, k1h, k1w), (o, m, k2h, k2w)
    kernel = torch.zeros(w2.shape[0], w1.shape[1], eh, ew, dtype=w1.dtype, device=w1.device)
    for p in range(k2h):
        for q in range(k2w):
            # output tap (p, q) of conv₂ reads conv₁'s output at offset (p·s₁·d₂, q·s₁·d₂) input pixels
            comb = torch.einsum("om,mihw->oihw", w2[:, :, p, q], w1)  # (o, i, k1h, k1w)
            r0, c0 = p * s1h * d2h, q * s1w * d2w
            kernel[:, :, r0 : r0 + d1h * (k1h - 1) + 1 : d1h, c0 : c0 + d1w * (k1w - 1) + 1 : d1w] += comb
    out = nn.Conv2d(w1.shape[1], w2.shape[0], (eh, ew), stride=(s1h * s2h, s1w * s2w), padding=a.padding,
                    bias=True, dtype=w1.dtype, device=w1.device)
    b1 = a.bias if a.bias is not None else torch.zeros(w1.shape[0], dtype=w1.dtype)
    b2 = b.bias if b.bias is not None else torch.zeros(w2.shape[0], dtype=w2.dtype)
    with torch.no_grad():
        out.weight.copy_(kernel)
        out.bias.copy_(b2 + torch.einsum("omhw,m->o", w2, b1))
    return out, ""


def _fold_seq(seq: nn.Sequential, report: FoldReport, prefix: str, sample: torch.Tensor) -> tuple[nn.Sequential, torch.Tensor]:
    """Fold one Sequential; ``sample`` is its input (shapes for pool-as-conv), returns its output."""
    layers: list[nn.Module] = []
    names: list[str] = []
    h = sample
    for name, mod in seq.named_children():
        label = f"{prefix}{name}"
        if isinstance(mod, nn.Sequential):
            mod, h_out = _fold_seq(mod, report, f"{label}.", h)
        else:
            with torch.no_grad():
                h_out = mod(h)
        if isinstance(mod, nn.AvgPool2d) and layers and isinstance(layers[-1], nn.Conv2d):
            conv = _avgpool_as_conv(mod, h.shape[1], h)
            if conv is None:
                report.left.append(f"{names[-1]} + {label}: average pooling with padding, ceil mode or a divisor is not a convolution here")
            else:
                merged, why = _conv_conv(layers[-1], conv)
                if merged is not None:
                    report.merged.append(f"{names[-1]} + {label} (AvgPool2d as a conv) → one Conv2d {tuple(merged.kernel_size)}")
                    layers[-1], names[-1], h = merged, f"{names[-1]}+{label}", h_out
                    continue
                report.left.append(f"{names[-1]} + {label}: {why}")
        merged_into_prev = False
        if layers:
            prev = layers[-1]
            if isinstance(mod, nn.Linear) and isinstance(prev, nn.Linear):
                layers[-1] = _linear_linear(prev, mod)
                report.merged.append(f"{names[-1]} + {label} → one Linear {prev.in_features}→{mod.out_features}")
                merged_into_prev = True
            elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)) and not mod.training and isinstance(prev, (nn.Linear, nn.Conv2d)):
                if mod.track_running_stats and mod.running_mean is not None:
                    layers[-1] = _with_bn(prev, mod)
                    report.merged.append(f"{names[-1]} + {label} (BatchNorm, eval) → one {type(prev).__name__}")
                    merged_into_prev = True
            elif isinstance(mod, nn.Conv2d) and isinstance(prev, nn.Conv2d):
                merged, why = _conv_conv(prev, mod)
                if merged is not None:
                    layers[-1] = merged
                    report.merged.append(f"{names[-1]} + {label} → one Conv2d {tuple(merged.kernel_size)}, stride {tuple(merged.stride)}")
                    merged_into_prev = True
                else:
                    report.left.append(f"{names[-1]} + {label}: {why}")
        if merged_into_prev:
            names[-1] = f"{names[-1]}+{label}"
        elif _transparent(mod):
            report.merged.append(f"{label} ({type(mod).__name__}) dropped: the identity in eval mode")
        elif isinstance(mod, nn.Flatten) and layers and isinstance(layers[-1], nn.Linear) and h.ndim == 2:
            report.merged.append(f"{label} (Flatten of a 2-D tensor) dropped: the identity here")
        else:
            layers.append(mod)
            names.append(label)
        h = h_out
    return nn.Sequential(*layers), h


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
