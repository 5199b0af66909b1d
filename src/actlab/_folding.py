"""The folding rules (core): merge adjacent affine layers of an nn.Sequential, exactly.

``actlab.fold`` (analysis layer) applies them to whole models and reports; ``actlab.collapse``
applies the cost-aware subset to a float64 copy before its reverse pass, because a stack of
convolutions and average pools folds into fewer, strided convolutions that are cheaper to pull
back through (the article's conv net: 3 convs + 2 pools → a 10×10 stride-4 conv and a 3×3 conv).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ._float64 import float64_copy
from ._tolerance import relative_error, tolerance_for
from .nets import Act

__all__ = ["FoldReport", "fold_for_reverse", "merge_pair"]


@dataclass
class FoldReport:
    merged: list[str] = field(default_factory=list)  # what was merged into what
    left: list[str] = field(default_factory=list)  # adjacent pairs left alone, and why
    layers_before: int = 0
    layers_after: int = 0
    max_rel_error: float | None = None  # folded vs original on the example inputs, float64
    macs_before: int | None = None  # multiply-adds per sample (analysis.cost.count_macs), original
    macs_after: int | None = None  # the same, folded
    params_before: int | None = None
    params_after: int | None = None

    @property
    def flops_before(self) -> int | None:  # a multiply-add is two floating-point operations
        return None if self.macs_before is None else 2 * self.macs_before

    @property
    def flops_after(self) -> int | None:
        return None if self.macs_after is None else 2 * self.macs_after

    def to_dict(self) -> dict:
        return {**self.__dict__, "flops_before": self.flops_before, "flops_after": self.flops_after}


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _transparent(m: nn.Module) -> bool:
    """Modules that compute the identity (and so vanish)."""
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


def _bn_scale_shift(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """BatchNorm in eval mode as x ↦ s·x + t per channel: s = γ/√(σ²+ε), t = β − μ·s."""
    inv = 1 / torch.sqrt(bn.running_var + bn.eps)
    s = bn.weight * inv if bn.affine else inv
    t = (bn.bias if bn.affine else torch.zeros_like(bn.running_mean)) - bn.running_mean * s
    return s.detach(), t.detach()


def _out_channel_view(layer: nn.Module, v: torch.Tensor) -> torch.Tensor:
    """``v`` (one value per output channel) shaped to broadcast over ``layer.weight``: a conv's
    weight is (out, in/g, k…), a transposed conv's (in, out/g, k…) with group g's outputs g·out/g…"""
    w = layer.weight
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        g = layer.groups
        return v.reshape(g, 1, -1, *([1] * (w.ndim - 2))).expand(g, w.shape[0] // g, -1, *w.shape[2:]).reshape(w.shape)
    return v.reshape(-1, *([1] * (w.ndim - 1)))


def _with_bn(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    """BN ∘ layer: the layer's output channels scaled by s, its bias s·(b − μ)·… + β."""
    out = copy.deepcopy(layer)
    s, t = _bn_scale_shift(bn)
    with torch.no_grad():
        out.weight.mul_(_out_channel_view(layer, s))
        bias = layer.bias.detach() if layer.bias is not None else torch.zeros_like(s)
        if out.bias is None:
            out.bias = nn.Parameter(torch.zeros_like(s))
        out.bias.copy_(s * bias + t)
    return out


def _bn_before(bn: nn.modules.batchnorm._BatchNorm, layer: nn.Module) -> nn.Module:
    """layer ∘ BN for a Linear (on 2-D input) or an unpadded conv: W' = W·diag(s) on the input
    channels, b' = b + W·t summed over the inputs (and the kernel)."""
    out = copy.deepcopy(layer)
    s, t = _bn_scale_shift(bn)
    w = layer.weight.detach()
    if isinstance(layer, nn.Linear):
        scale, shift = s[None, :], w @ t  # (1, in), (out,)
    else:  # a conv (out, in/g, k…): group g reads input channels g·in/g …
        g, per = layer.groups, w.shape[1]
        s_g, t_g = s.reshape(g, per), t.reshape(g, per)  # (g, in/g)
        group = torch.arange(w.shape[0], device=w.device) // (w.shape[0] // g)  # each output channel's group
        scale = s_g[group].reshape(w.shape[0], per, *([1] * (w.ndim - 2)))
        shift = (w.sum(dim=tuple(range(2, w.ndim))) * t_g[group]).sum(dim=1)  # Σ over in/g and the kernel
    with torch.no_grad():
        out.weight.mul_(scale)
        bias = layer.bias.detach() if layer.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
        if out.bias is None:
            out.bias = nn.Parameter(torch.zeros_like(bias))
        out.bias.copy_(bias + shift)
    return out


def _bn_before_why(bn: nn.modules.batchnorm._BatchNorm, layer: nn.Module, b_in: torch.Tensor) -> str:
    """Why ``layer ∘ bn`` cannot merge exactly, or ""."""
    if isinstance(layer, nn.Linear):
        if b_in.ndim != 2:
            return f"{type(bn).__name__} normalises dim 1 of a {b_in.ndim}-D tensor, the Linear reads its last dim: different axes"
        return "" if layer.in_features == bn.num_features else "BatchNorm's features are not the Linear's inputs"
    if layer.in_channels != bn.num_features or b_in.ndim != layer.weight.ndim:
        return f"{type(bn).__name__} does not act on {type(layer).__name__}'s input channels"
    padding = layer.padding if not isinstance(layer.padding, str) else ((0,) if layer.padding == "valid" else (1,))
    pads = any(p for p in (padding if isinstance(padding, (tuple, list)) else (padding,)))
    # reflect, replicate and circular padding commute with a per-channel affine map; zeros do not
    if pads and layer.padding_mode == "zeros" and bool(_bn_scale_shift(bn)[1].any()):
        return ("the conv zero-pads its input, and BatchNorm maps 0 to its shift β − μ·γ/√(σ²+ε) ≠ 0: padded borders "
                "would differ")
    return ""


_CONV_TEMPLATE: list[nn.Conv2d] = []


def _new_conv(weight: torch.Tensor, bias: torch.Tensor, stride, padding, groups: int = 1) -> nn.Conv2d:
    """An nn.Conv2d holding ``weight`` (o, i/groups, kh, kw) and ``bias``: a shallow copy of a template
    with its own parameters and geometry — nn.Conv2d's constructor initialises weights, even on
    the meta device, which costs more than the merge itself."""
    if not _CONV_TEMPLATE:
        _CONV_TEMPLATE.append(nn.Conv2d(1, 1, 1, device="meta"))
    conv = copy.copy(_CONV_TEMPLATE[0])
    # its own attribute dict, and a fresh one for every dict in it (parameters, buffers, the
    # template's empty hook registries): nothing is shared with the template or other copies;
    # plain attributes written into it directly (Module.__setattr__ costs microseconds each)
    padding = _pair(padding)
    conv.__dict__ = {k: type(v)() if isinstance(v, dict) else v for k, v in conv.__dict__.items()} | {
        "out_channels": weight.shape[0],
        "in_channels": weight.shape[1] * groups,
        "groups": groups,
        "kernel_size": tuple(weight.shape[2:]),
        "stride": _pair(stride),
        "padding": padding,
        "_reversed_padding_repeated_twice": [p for p in reversed(padding) for _ in range(2)],
    }
    conv._parameters.update(weight=nn.Parameter(weight), bias=nn.Parameter(bias))
    return conv


def _dense_weight(conv: nn.Conv2d) -> torch.Tensor:
    """A grouped conv's weight (o, i/g, k…) as the block-diagonal weight (o, i, k…) of the same map."""
    w, g = conv.weight.detach(), conv.groups
    if g == 1:
        return w
    o, per = w.shape[0] // g, w.shape[1]
    dense = torch.zeros(w.shape[0], per * g, *w.shape[2:], dtype=w.dtype, device=w.device)
    for k in range(g):
        dense[k * o : (k + 1) * o, k * per : (k + 1) * per] = w[k * o : (k + 1) * o]
    return dense


def _avgpool_as_conv(p: nn.AvgPool2d, channels: int, like: torch.Tensor) -> nn.Conv2d | None:
    k, s = _pair(p.kernel_size), _pair(p.stride if p.stride is not None else p.kernel_size)
    if _pair(p.padding) != (0, 0) or p.ceil_mode or p.divisor_override is not None:
        return None
    weight = torch.zeros(channels, channels, *k, dtype=like.dtype, device=like.device)
    idx = torch.arange(channels)
    weight[idx, idx] = 1.0 / (k[0] * k[1])
    return _new_conv(weight, torch.zeros(channels, dtype=like.dtype, device=like.device), s, 0)


def _conv_conv(a: nn.Conv2d, b: nn.Conv2d, budget: tuple[int, int] | None = None) -> tuple[nn.Conv2d | None, str]:
    """``b ∘ a`` as one conv, or (None, why). Grouped convs with the same groups merge group by
    group (a grouped result); others through their dense, block-diagonal weights (a dense
    result). ``budget`` = (the pair's multiply-adds per sample, the merged output's size per
    sample): refuse, before building it, a kernel dearer than the pair."""
    if _pair(b.padding) != (0, 0) or isinstance(b.padding, str):
        return None, "the second conv pads its input: padded borders are not a convolution of the first's input"
    if isinstance(a.padding, str) or a.padding_mode != "zeros":
        return None, "the first conv's padding mode is not plain zeros"
    (k1h, k1w), (k2h, k2w) = a.kernel_size, b.kernel_size
    (s1h, s1w), (s2h, s2w) = a.stride, b.stride
    (d1h, d1w), (d2h, d2w) = a.dilation, b.dilation
    eh, ew = d1h * (k1h - 1) + s1h * d2h * (k2h - 1) + 1, d1w * (k1w - 1) + s1w * d2w * (k2w - 1) + 1
    g = a.groups if a.groups == b.groups else 1
    if budget is not None and budget[1] * (a.in_channels // g) * eh * ew > budget[0]:
        return None, _dearer_text(budget[1] * (a.in_channels // g) * eh * ew, budget[0], a.groups != b.groups)
    w1 = a.weight.detach() if g > 1 else _dense_weight(a)  # (m, i/g, k1h, k1w)
    w2 = b.weight.detach() if g > 1 else _dense_weight(b)  # (o, m/g, k2h, k2w)
    m, o = w1.shape[0] // g, w2.shape[0] // g
    kernel = torch.cat([_merged_kernel(w1[k * m : (k + 1) * m], w2[k * o : (k + 1) * o], (d1h, d1w), (s1h * d2h, s1w * d2w))
                        for k in range(g)])  # (o, i/g, eh, ew)
    assert kernel.shape[2:] == (eh, ew)
    b1 = a.bias.detach() if a.bias is not None else torch.zeros(w1.shape[0], dtype=w1.dtype, device=w1.device)
    b2 = b.bias.detach() if b.bias is not None else torch.zeros(w2.shape[0], dtype=w2.dtype, device=w2.device)
    out = _new_conv(kernel, b2 + _dense_weight(b).sum(dim=(2, 3)) @ b1, (s1h * s2h, s1w * s2w), a.padding, groups=g)
    return out, ""


def _merged_kernel(w1: torch.Tensor, w2: torch.Tensor, d1: tuple[int, int], step: tuple[int, int]) -> torch.Tensor:
    """The kernel (o, i, eh, ew) of conv₂ ∘ conv₁ for weights w1 (m, i, k1h, k1w), w2 (o, m, k2h, k2w):
    kernel[o, i, y, x] = Σ_m Σ_pq w2[o, m, p, q] · w1↑d₁[m, i, y − p·step, x − q·step] — output tap
    (p, q) of conv₂ reads conv₁'s output p·s₁d₂ input pixels further on. That sum is one
    transposed convolution of the (dilated) first kernel, batched over input channels i."""
    (k1h, k1w), (d1h, d1w) = w1.shape[2:], d1
    w1d = torch.zeros(*w1.shape[:2], d1h * (k1h - 1) + 1, d1w * (k1w - 1) + 1, dtype=w1.dtype, device=w1.device)
    w1d[:, :, ::d1h, ::d1w] = w1
    with torch.no_grad():
        kernel = F.conv_transpose2d(w1d.transpose(0, 1), w2.transpose(0, 1), dilation=step)
    return kernel.transpose(0, 1).contiguous()


def _dearer_text(after: int, before: int, dense: bool = False) -> str:
    why = f"the merged layer would cost {after:,} multiply-adds per sample, the pair {before:,}"
    return why + (" (a grouped pair merges into a dense conv: the pair is the cheaper form)" if dense else "")


def _layer_macs(layer: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-adds of one layer per sample, from its input and output: a Linear in·out per row,
    a conv (out elements)·(in/groups)·kernel, a transposed conv (in elements)·(out/groups)·kernel,
    an average pool (out elements)·kernel, a BatchNorm one per element."""
    per = lambda t: math.prod(t.shape[1:])  # noqa: E731
    if isinstance(layer, nn.Linear):
        return per(out) * layer.in_features
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        return per(inp) * (layer.out_channels // layer.groups) * math.prod(layer.kernel_size)
    if isinstance(layer, nn.modules.conv._ConvNd):
        return per(out) * (layer.in_channels // layer.groups) * math.prod(layer.kernel_size)
    if isinstance(layer, nn.AvgPool2d):
        return per(out) * math.prod(_pair(layer.kernel_size))
    return per(out)  # BatchNorm


def _verify_merge(merged: nn.Module, a: nn.Module, b: nn.Module, a_in: torch.Tensor) -> str:
    """Why ``merged`` is refused — it differs from ``b(a(·))`` on ``a_in`` by more than the
    tolerance of the pair's dtype (compared in float64) — or ""."""
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
    check on ``a_in`` when ``verify``) do not hold. ``cheaper_only``: a merged layer that costs
    more multiply-adds per sample than the pair is refused (otherwise kept and said)."""
    if isinstance(a, nn.Linear) and isinstance(b, nn.Linear) and not linear:
        return None, "", ""
    before = _layer_macs(a, a_in, b_in) + _layer_macs(b, b_in, b_out)  # the pair's multiply-adds per sample
    merged, what, why = _apply_rule(a, b, a_in, b_in, b_out, (before, math.prod(b_out.shape[1:])) if cheaper_only else None)
    if merged is None:
        return None, "", why
    after = _layer_macs(merged, a_in, b_out)
    if after > before and cheaper_only:
        return None, "", _dearer_text(after, before, getattr(a, "groups", 1) != getattr(merged, "groups", 1))
    if after > before:
        what += f" — dearer: {_dearer_text(after, before)}"
    if verify:
        why = _verify_merge(merged, a, b, a_in)
        if why:
            return None, "", why
    return merged, what, ""


_AFFINE_LAYER = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)


def _apply_rule(a: nn.Module, b: nn.Module, a_in: torch.Tensor, b_in: torch.Tensor, b_out: torch.Tensor,
                budget: tuple[int, int] | None) -> tuple[nn.Module | None, str, str]:
    """The rule for ``b ∘ a``: (merged, what, "") or (None, "", why), (None, "", "") for no rule."""
    if isinstance(a, nn.Linear) and isinstance(b, nn.Linear):
        return _linear_linear(a, b), f"→ one Linear {a.in_features}→{b.out_features}", ""
    for bn, layer in ((b, a), (a, b)):
        if isinstance(bn, _BATCHNORM) and isinstance(layer, _AFFINE_LAYER):
            if bn.training or not bn.track_running_stats or bn.running_mean is None:
                return None, "", "BatchNorm in training mode normalises by the batch's own statistics: not a fixed affine map"
            if bn is b:
                why = _bn_after_why(layer, bn, b_out)
                return (None, "", why) if why else (_with_bn(layer, bn), f"(BatchNorm, eval) → one {type(layer).__name__}", "")
            if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
                return None, "", ""
            why = _bn_before_why(bn, layer, b_in)
            return (None, "", why) if why else (_bn_before(bn, layer), f"(BatchNorm before it, eval) → one {type(layer).__name__}", "")
    if isinstance(a, nn.Conv2d) and isinstance(b, nn.Conv2d):
        merged, why = _conv_conv(a, b, budget)
        return merged, "" if merged is None else f"→ one Conv2d {tuple(merged.kernel_size)}, stride {tuple(merged.stride)}", why
    if isinstance(a, nn.Conv2d) and isinstance(b, nn.AvgPool2d) or isinstance(a, nn.AvgPool2d) and isinstance(b, nn.Conv2d):
        pool, channels = (b, b_in.shape[1]) if isinstance(b, nn.AvgPool2d) else (a, a_in.shape[1])
        conv = _avgpool_as_conv(pool, channels, b_in)
        if conv is None:
            return None, "", "average pooling with padding, ceil mode or a divisor is not a convolution here"
        merged, why = _conv_conv(a, conv, budget) if pool is b else _conv_conv(conv, b, budget)
        return merged, "" if merged is None else f"(AvgPool2d as a conv) → one Conv2d {tuple(merged.kernel_size)}", why
    return None, "", ""


def _bn_after_why(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm, b_out: torch.Tensor) -> str:
    """Why ``bn ∘ layer`` cannot merge (BatchNorm normalises dim 1), or ""."""
    if isinstance(layer, nn.Linear) and b_out.ndim != 2:
        return (f"{type(bn).__name__} normalises dim 1 of a {b_out.ndim}-D tensor, the Linear's features are "
                "its last dim: different axes")
    channels = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
    if channels != bn.num_features or (not isinstance(layer, nn.Linear) and b_out.ndim != layer.weight.ndim):
        return f"{type(bn).__name__} does not act on {type(layer).__name__}'s output channels"
    return ""


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
    outputs the chain is cheaper unfolded); ``cheaper_only`` merges a pair only if the merged
    layer costs no more multiply-adds per sample than the pair (two 3×3 convs of equal width →
    one 5×5 costs more; a conv followed by a pool or a strided conv costs less; a Linear
    bottleneck 100→2→100 merged is a 100×100 Linear, 25× dearer);
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


def fold_for_reverse(
    model: nn.Module, sample: torch.Tensor, work: nn.Sequential | None = None
) -> tuple[nn.Sequential, FoldReport] | None:
    """A float64 copy of ``model`` with its conv/pool/BatchNorm pairs folded where that is
    cheaper, for a reverse pass; None when ``model`` is not a Sequential with such a pair (then
    folding would only cost time). Linear∘Linear pairs are left (see ``_fold_seq``). ``work``:
    a ``float64_copy`` of ``model`` already made (its layers are reused; their values never change)."""
    if not isinstance(model, nn.Sequential) or not _has_conv_pair(model):
        return None
    work = float64_copy(model, sample.device) if work is None else work
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
