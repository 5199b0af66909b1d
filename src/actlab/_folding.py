"""The folding rules (core): merge adjacent affine layers of an nn.Sequential, exactly.

``actlab.fold`` (analysis layer) applies them to whole models and reports; ``actlab.collapse``
applies the cost-aware subset to a float64 copy before its reverse pass, because a stack of
convolutions and average pools folds into fewer, strided convolutions that are cheaper to pull
back through (the seed's conv net: 3 convs + 2 pools → a 10×10 stride-4 conv and a 3×3 conv).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FoldReport", "fold_for_reverse", "merge_pair"]


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
    from .nets import Act

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


_CONV_TEMPLATE: list[nn.Conv2d] = []


def _new_conv(weight: torch.Tensor, bias: torch.Tensor, stride, padding) -> nn.Conv2d:
    """An nn.Conv2d holding ``weight`` (o, i, kh, kw) and ``bias``: a shallow copy of a template
    with its own parameters and geometry — nn.Conv2d's constructor initialises weights (even on
    the meta device) and cost 0.35 ms a conv, a tenth of a warm collapse of the seed's conv net."""
    if not _CONV_TEMPLATE:
        _CONV_TEMPLATE.append(nn.Conv2d(1, 1, 1, device="meta"))
    conv = copy.copy(_CONV_TEMPLATE[0])
    # its own attribute dict, and a fresh one for every dict in it (parameters, buffers, the
    # template's empty hook registries): nothing is shared with the template or other copies;
    # plain attributes written into it directly (Module.__setattr__ costs microseconds each)
    padding = _pair(padding)
    conv.__dict__ = {k: type(v)() if isinstance(v, dict) else v for k, v in conv.__dict__.items()} | {
        "out_channels": weight.shape[0],
        "in_channels": weight.shape[1],
        "kernel_size": tuple(weight.shape[2:]),
        "stride": _pair(stride),
        "padding": padding,
        "_reversed_padding_repeated_twice": [p for p in reversed(padding) for _ in range(2)],
    }
    conv._parameters.update(weight=nn.Parameter(weight), bias=nn.Parameter(bias))
    return conv


def _avgpool_as_conv(p: nn.AvgPool2d, channels: int, like: torch.Tensor) -> nn.Conv2d | None:
    k, s = _pair(p.kernel_size), _pair(p.stride if p.stride is not None else p.kernel_size)
    if _pair(p.padding) != (0, 0) or p.ceil_mode or p.divisor_override is not None:
        return None
    weight = torch.zeros(channels, channels, *k, dtype=like.dtype, device=like.device)
    idx = torch.arange(channels)
    weight[idx, idx] = 1.0 / (k[0] * k[1])
    return _new_conv(weight, torch.zeros(channels, dtype=like.dtype, device=like.device), s, 0)


def _conv_conv(a: nn.Conv2d, b: nn.Conv2d, budget: tuple[int, int] | None = None) -> tuple[nn.Conv2d | None, str]:
    """``b ∘ a`` as one conv, or (None, why). ``budget`` = (the pair's multiply-adds per sample,
    the merged output's size per sample): refuse, before building it, a kernel dearer than the pair."""
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
    if budget is not None and budget[1] * a.in_channels * eh * ew > budget[0]:
        return None, f"the merged kernel would cost {budget[1] * a.in_channels * eh * ew:,} multiply-adds per sample, the pair {budget[0]:,}"
    w1, w2 = a.weight.detach(), b.weight.detach()  # (m, i, k1h, k1w), (o, m, k2h, k2w)
    # kernel[o, i, y, x] = Σ_m Σ_pq w2[o, m, p, q] · w1↑d₁[m, i, y − p·s₁d₂, x − q·s₁d₂]: output tap
    # (p, q) of conv₂ reads conv₁'s output p·s₁d₂ input pixels further on. That sum is one
    # transposed convolution of the (dilated) first kernel, batched over input channels i.
    w1d = torch.zeros(*w1.shape[:2], d1h * (k1h - 1) + 1, d1w * (k1w - 1) + 1, dtype=w1.dtype, device=w1.device)
    w1d[:, :, ::d1h, ::d1w] = w1
    with torch.no_grad():
        kernel = F.conv_transpose2d(w1d.transpose(0, 1), w2.transpose(0, 1), dilation=(s1h * d2h, s1w * d2w))
    kernel = kernel.transpose(0, 1).contiguous()  # (o, i, eh, ew)
    assert kernel.shape[2:] == (eh, ew)
    b1 = a.bias.detach() if a.bias is not None else torch.zeros(w1.shape[0], dtype=w1.dtype, device=w1.device)
    b2 = b.bias.detach() if b.bias is not None else torch.zeros(w2.shape[0], dtype=w2.dtype, device=w2.device)
    out = _new_conv(kernel, b2 + w2.sum(dim=(2, 3)) @ b1, (s1h * s2h, s1w * s2w), a.padding)
    return out, ""


def _conv_macs(conv: nn.Conv2d, out: torch.Tensor) -> int:
    """Multiply-adds of ``conv`` per sample, given its output."""
    kh, kw = conv.kernel_size
    return math.prod(out.shape[1:]) * (conv.in_channels // conv.groups) * kh * kw


def _dearer(merged: nn.Conv2d, out: torch.Tensor, before: int) -> str:
    """Why ``merged`` is not worth it (it costs more than the ``before`` pair), or ""."""
    after = _conv_macs(merged, out)
    return f"the merged kernel would cost {after:,} multiply-adds per sample, the pair {before:,}" if after > before else ""


def _verify_merge(merged: nn.Module, a: nn.Module, b: nn.Module, a_in: torch.Tensor) -> str:
    """Why ``merged`` is refused — it differs from ``b(a(·))`` on ``a_in`` by more than the
    tolerance of the pair's dtype (compared in float64) — or ""."""
    from .affine import relative_error, tolerance_for

    dtype = next((p.dtype for p in a.parameters()), a_in.dtype)
    x = a_in.detach().to(torch.float64)
    with torch.no_grad():
        ref = copy.deepcopy(b).double()(copy.deepcopy(a).double()(x))
        got = copy.deepcopy(merged).double()(x)
    err, tol = relative_error(got - ref, ref), tolerance_for(dtype)
    if err > tol:
        return f"the merged layer differs from the pair by {err:.2g} (relative) on the example inputs, above the tolerance {tol:.2g} ({str(dtype).removeprefix('torch.')}): left as it was"
    return ""


def merge_pair(
    a: nn.Module,
    b: nn.Module,
    a_in: torch.Tensor,
    b_in: torch.Tensor,
    b_out: torch.Tensor,
    *,
    linear: bool = True,
    cheaper_only: bool = False,
    verify: bool = True,
) -> tuple[nn.Module | None, str, str]:
    """Merge ``b ∘ a`` (``a_in``: a's input, ``b_in``/``b_out``: b's input and output, samples
    for shapes, costs and the check) into one layer.

    Returns (merged, what was merged, why not): (None, "", "") when the pair matches no rule,
    (None, "", why) when a rule matched but its conditions (axes, padding, cost, the float64
    check on ``a_in`` when ``verify``) do not hold."""
    what, before = "", 0
    if isinstance(a, nn.Linear) and isinstance(b, nn.Linear):
        if not linear:
            return None, "", ""
        merged, why, what = _linear_linear(a, b), "", f"→ one Linear {a.in_features}→{b.out_features}"
    elif isinstance(b, (nn.BatchNorm1d, nn.BatchNorm2d)) and isinstance(a, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        if b.training or not b.track_running_stats or b.running_mean is None:
            return None, "", "BatchNorm in training mode normalises by the batch's own statistics: not a fixed affine map"
        # BatchNorm normalises dim 1: the Linear's features only for 2-D input, a conv's channels always
        if isinstance(a, nn.Linear) and b_out.ndim != 2:
            return None, "", (f"{type(b).__name__} normalises dim 1 of a {b_out.ndim}-D tensor, the Linear's features are "
                              "its last dim: different axes")
        if not isinstance(a, nn.Linear) and (a.out_channels != b.num_features or b_out.ndim != a.weight.ndim):
            return None, "", f"{type(b).__name__} does not act on {type(a).__name__}'s output channels"
        merged, why, what = _with_bn(a, b), "", f"(BatchNorm, eval) → one {type(a).__name__}"
    elif isinstance(a, nn.Conv2d) and isinstance(b, nn.Conv2d):
        before = _conv_macs(a, b_in) + _conv_macs(b, b_out)  # the pair's multiply-adds per sample
        merged, why = _conv_conv(a, b, (before, math.prod(b_out.shape[1:])) if cheaper_only else None)
        what = "" if merged is None else f"→ one Conv2d {tuple(merged.kernel_size)}, stride {tuple(merged.stride)}"
    elif isinstance(a, nn.Conv2d) and isinstance(b, nn.AvgPool2d) or isinstance(a, nn.AvgPool2d) and isinstance(b, nn.Conv2d):
        pool, channels = (b, b_in.shape[1]) if isinstance(b, nn.AvgPool2d) else (a, a_in.shape[1])
        conv = _avgpool_as_conv(pool, channels, b_in)
        if conv is None:
            return None, "", "average pooling with padding, ceil mode or a divisor is not a convolution here"
        pool_macs = math.prod((b_out if pool is b else b_in).shape[1:]) * math.prod(conv.kernel_size)
        before = pool_macs + (_conv_macs(a, b_in) if pool is b else _conv_macs(b, b_out))
        budget = (before, math.prod(b_out.shape[1:])) if cheaper_only else None
        merged, why = _conv_conv(a, conv, budget) if pool is b else _conv_conv(conv, b, budget)
        what = "" if merged is None else f"(AvgPool2d as a conv) → one Conv2d {tuple(merged.kernel_size)}"
    else:
        return None, "", ""
    if isinstance(merged, nn.Conv2d) and before:  # conv merges: the cost rule, and a word when dearer
        dearer = _dearer(merged, b_out, before)
        if dearer and cheaper_only:
            merged, why = None, dearer
        elif dearer:
            what += f" — dearer: {dearer}"
    if merged is not None and verify:
        why = _verify_merge(merged, a, b, a_in)
        merged = None if why else merged
    return merged, ("" if merged is None else what), why


def _fold_seq(
    seq: nn.Sequential,
    report: FoldReport,
    prefix: str,
    sample: torch.Tensor,
    *,
    linear: bool = True,
    cheaper_only: bool = False,
    verify: bool = True,
) -> tuple[nn.Sequential, torch.Tensor]:
    """Fold one Sequential; ``sample`` is its input (shapes, costs and the check of each merge),
    returns its output. ``linear=False`` leaves Linear∘Linear pairs (for a reverse pass from few
    outputs the chain is cheaper unfolded); ``cheaper_only`` merges a conv pair only if the
    merged kernel costs no more multiply-adds per sample than the pair (two 3×3 convs of equal
    width → one 5×5 costs more; a conv followed by a pool or a strided conv costs less);
    ``verify`` checks each merge in float64 on the sample (see ``merge_pair``).
    """
    layers: list[nn.Module] = []
    names: list[str] = []
    inputs: list[torch.Tensor] = []  # each kept layer's input
    h = sample
    for name, mod in seq.named_children():
        label = f"{prefix}{name}"
        if isinstance(mod, nn.Sequential):
            mod, h_out = _fold_seq(mod, report, f"{label}.", h, linear=linear, cheaper_only=cheaper_only, verify=verify)
        else:
            with torch.no_grad():
                h_out = mod(h)
        if layers:
            merged, what, why = merge_pair(layers[-1], mod, inputs[-1], h, h_out, linear=linear, cheaper_only=cheaper_only, verify=verify)
            if merged is not None:
                report.merged.append(f"{names[-1]} + {label} {what}")
                layers[-1], names[-1], h = merged, f"{names[-1]}+{label}", h_out
                continue
            if why:
                report.left.append(f"{names[-1]} + {label}: {why}")
        if _transparent(mod):
            report.merged.append(f"{label} ({type(mod).__name__}) dropped: the identity in eval mode")
        elif isinstance(mod, nn.Flatten) and layers and isinstance(layers[-1], nn.Linear) and h.ndim == 2:
            report.merged.append(f"{label} (Flatten of a 2-D tensor) dropped: the identity here")
        else:
            layers.append(mod)
            names.append(label)
            inputs.append(h)
        h = h_out
    return nn.Sequential(*layers), h


def _has_conv_pair(seq: nn.Sequential) -> bool:
    """Whether a Conv2d is followed (identities between) by a Conv2d, AvgPool2d or BatchNorm2d."""
    prev_conv = False
    for mod in seq.children():
        if isinstance(mod, nn.Sequential):
            if _has_conv_pair(mod):
                return True
            prev_conv = False
            continue
        if prev_conv and isinstance(mod, (nn.Conv2d, nn.AvgPool2d, nn.BatchNorm2d)):
            return True
        if isinstance(mod, nn.Conv2d):
            prev_conv = True
        elif not _transparent(mod):
            prev_conv = False
    return False


def _float64_copy(model: nn.Module, device) -> nn.Module:
    """A float64 copy without gradients: leaves are shallow copies with new parameter and buffer
    dicts (a deepcopy of a whole Sequential costs milliseconds — more than the reverse pass it
    prepares); modules with children are copied deeply."""
    if isinstance(model, nn.Sequential):
        return nn.Sequential(*(_float64_copy(m, device) for m in model))
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


def fold_for_reverse(
    model: nn.Module, sample: torch.Tensor, work: nn.Sequential | None = None
) -> tuple[nn.Sequential, FoldReport] | None:
    """A float64 copy of ``model`` with its conv/pool/BatchNorm pairs folded where that is
    cheaper, for a reverse pass; None when ``model`` is not a Sequential with such a pair (then
    folding would only cost time). Linear∘Linear pairs are left (see ``_fold_seq``). ``work``:
    a ``_float64_copy`` of ``model`` already made (its layers are reused; their values never change)."""
    if not isinstance(model, nn.Sequential) or not _has_conv_pair(model):
        return None
    work = _float64_copy(model, sample.device) if work is None else work
    # shapes and costs from an empty batch (nothing computed), else from the sample; no per-merge
    # check: collapse certifies the result against the model itself
    for batch in (sample[:0], sample):
        report = FoldReport()
        try:
            folded, out = _fold_seq(work, report, "", batch.to(torch.float64), linear=False, cheaper_only=True, verify=False)
        except Exception:  # a layer that refuses an empty batch
            if batch.shape[0]:
                raise
            continue
        if batch.shape[0] or out.shape[0] == 0:  # a layer that makes up rows cannot be sized by an empty batch
            break
    if not any("→" in m for m in report.merged):
        return None
    folded.requires_grad_(False)
    return folded, report
