"""How W and b are read off a function: the model or black box wrapped as a float64 batch
function (``_prepare``), forward probing with the basis, and reverse mode.

    forward   W[:, i] = (f(h·eᵢ) − f(0)) / h          d + 1 evaluations, batched in chunks
    reverse   W[j, :] = ∇ₓ f_j                         one forward pass, the m output basis
                                                        vectors pulled back through autograd

``actlab.affine`` builds maps and certificates on top of these.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ._float64 import float64_copy

# ----------------------------------------------------------------------------------------
# Wrapping a module or a black box as a float64 torch function on batches


@dataclass
class _Target:
    fn: Callable[[torch.Tensor], torch.Tensor]  # (N, *in_shape) float64 -> (N, *out_shape) float64
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    dtype: torch.dtype  # precision the function really computes in
    differentiable: bool  # torch autograd flows from input to output
    description: str
    module: nn.Module | None = None  # the float64 module fn calls, when it calls one (a Sequential's
    # plain layers let _reverse_plain read W off them)

    @property
    def d_in(self) -> int:
        return math.prod(self.in_shape)

    @property
    def d_out(self) -> int:
        return math.prod(self.out_shape)


def _check_in_shape(in_shape: Any) -> tuple[int, ...]:
    if isinstance(in_shape, int):
        in_shape = (in_shape,)
    try:
        shape = tuple(int(s) for s in in_shape)
    except (TypeError, ValueError):
        raise TypeError(f"in_shape must be a tuple of positive ints (without the batch dimension), got {in_shape!r}")
    if not shape or any(s <= 0 for s in shape) or any(s != t for s, t in zip(shape, in_shape)):
        raise ValueError(f"in_shape must be a non-empty tuple of positive ints (without the batch dimension), got {in_shape!r}")
    return shape


def _to_torch(out: Any, n: int, what: str) -> torch.Tensor:
    if isinstance(out, np.ndarray):
        out = torch.from_numpy(np.ascontiguousarray(out))
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{what} must return one tensor or array of shape (N, ...), got {type(out).__name__}")
    if out.ndim == 0 or out.shape[0] != n:
        raise ValueError(f"{what} must return a batch with leading dimension N={n}, got shape {tuple(out.shape)}")
    if not (out.is_floating_point() or out.is_complex()):
        out = out.to(torch.float64)
    return out


def _prepare(model_or_fn: Any, in_shape: Any, device: str = "cpu") -> _Target:
    """Wrap ``model_or_fn`` as a float64 batch function and find its output shape."""
    in_shape = _check_in_shape(in_shape)
    device = _resolve_device(device)
    if isinstance(model_or_fn, nn.Module):
        probe = torch.zeros((2, *in_shape), dtype=torch.float64, device=device)
        error: Exception | None = None
        for fn, in_dtype, what in _float64_versions(model_or_fn, device):
            try:
                with torch.no_grad():
                    out = _to_torch(fn(probe.to(in_dtype)), 2, type(model_or_fn).__name__)
            except (TypeError, ValueError) as exc:  # wrong return type: no other version will do
                raise type(exc)(str(exc)) from None
            except Exception as exc:
                error = exc
                continue
            # precision observed, not assumed: a model that casts internally returns its own dtype
            precision = min(in_dtype, out.dtype if out.is_floating_point() else in_dtype, key=lambda d: torch.finfo(d).bits)
            return _Target(
                fn=lambda x, fn=fn, in_dtype=in_dtype: _to_torch(fn(x.to(in_dtype)), x.shape[0], "the model").to(torch.float64),
                in_shape=in_shape,
                out_shape=tuple(out.shape[1:]),
                dtype=precision,
                differentiable=True,
                description=f"{what} of {type(model_or_fn).__name__}, {str(precision).removeprefix('torch.')} precision",
                module=fn if isinstance(fn, nn.Module) and in_dtype == torch.float64 else None,
            )
        raise ValueError(
            f"the model raised on an input of shape {(2, *in_shape)}: {type(error).__name__}: {error}"
        ) from None
    if not callable(model_or_fn):
        raise TypeError(f"expected a torch.nn.Module or a callable on batches, got {type(model_or_fn).__name__}")

    # A black box: find which input kind it accepts, most precise first.
    attempts = [
        ("torch", torch.float64),
        ("torch", torch.float32),
        ("numpy", torch.float64),
        ("numpy", torch.float32),
    ]
    errors = []
    for kind, in_dtype in attempts:
        probe = torch.zeros((2, *in_shape), dtype=in_dtype, device=device)
        arg = probe if kind == "torch" else probe.cpu().numpy()
        try:
            with torch.no_grad():
                out = _to_torch(model_or_fn(arg), 2, "the function")
        except Exception as exc:
            errors.append(f"{kind} {str(in_dtype).removeprefix('torch.')}: {type(exc).__name__}: {exc}")
            continue
        out_dtype = out.dtype if out.is_floating_point() else torch.float64
        precision = min(in_dtype, out_dtype, key=lambda d: torch.finfo(d).bits)

        def fn(x: torch.Tensor, kind=kind, in_dtype=in_dtype) -> torch.Tensor:
            x = x.to(in_dtype)
            if kind == "numpy":
                x = x.detach().cpu().numpy()
            y = _to_torch(model_or_fn(x), x.shape[0], "the function")
            return y.to(device=device, dtype=torch.float64)

        return _Target(
            fn=fn,
            in_shape=in_shape,
            out_shape=tuple(out.shape[1:]),
            dtype=precision,
            differentiable=kind == "torch",
            description=f"black box on {kind} {str(in_dtype).removeprefix('torch.')} input, "
            f"{str(precision).removeprefix('torch.')} precision",
        )
    raise ValueError(
        f"the function failed on a zero batch of shape {(2, *in_shape)} in every input kind tried: " + "; ".join(errors)
    )


def _float64_versions(model: nn.Module, device: str):
    """Ways to run ``model`` without touching it, most precise and cheapest first, as
    (function, input dtype, description).

    An nn.Sequential is first copied layer by layer (``actlab._float64.float64_copy``: shallow
    copies of its leaves holding float64 parameters), which runs as fast as the model itself
    (``functional_call`` swaps every parameter in and out on each call). Otherwise ``functional_call`` with float64 copies of the parameters and buffers converts each tensor
    once (a deepcopy copies, then converts). A module that keeps float32 tensors outside its
    parameters and buffers fails that way on float64 input; a deepcopy converted with ``.to``
    is the fallback. A module that casts its input internally (``x.float()`` before its layers)
    fails both: it is then run as it is, at its own precision.
    """
    if isinstance(model, nn.Sequential):
        try:
            copied = float64_copy(model, device)
        except Exception:  # a leaf that cannot be copied: the ways below
            pass
        else:
            yield copied, torch.float64, "float64 copy"
    state = {
        name: t.detach().to(device=device, dtype=torch.float64) if t.is_floating_point() else t.to(device)
        for name, t in model.named_parameters()
    } | {  # buffers copied even where no conversion is needed: BatchNorm in training mode updates them
        name: t.to(device=device, dtype=torch.float64 if t.is_floating_point() else t.dtype, copy=True)
        for name, t in model.named_buffers()
    }
    yield (lambda x: torch.func.functional_call(model, state, (x,), strict=False)), torch.float64, "float64 copy"
    try:
        copied = copy.deepcopy(model)
    except Exception:  # not copyable (locks, open files): nothing more to try
        return
    own = next((t.dtype for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()), torch.float32)
    yield copy.deepcopy(copied).to(device=device, dtype=torch.float64), torch.float64, "float64 copy"
    if own != torch.float64:
        yield copied.to(device), own, "a copy at its own precision"


def _resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return device



def _basis_probe(t: _Target, chunk_size: int, device: str, step: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """W[:, i] = (f(h·eᵢ) − f(0)) / h: h = 1 on the boxes around 0; a step inside the data's
    spread when the map is built on given inputs (a unit step would leave a small domain)."""
    d, m = t.d_in, t.d_out
    out = torch.empty((d + 1, m), dtype=torch.float64, device=device)  # row 0: f(0); row i: f(h e_i)
    with torch.no_grad():
        for start in range(0, d + 1, chunk_size):
            k = min(chunk_size, d + 1 - start)
            rows = torch.arange(start, start + k)
            e = torch.zeros((k, d), dtype=torch.float64, device=device)  # (k, d): 0, then e_1, e_2, ...
            e[(rows > 0).nonzero().squeeze(1), rows[rows > 0] - 1] = step
            out[start : start + k] = t.fn(e.reshape(k, *t.in_shape)).reshape(k, m)
    bias = out[0].clone()
    return ((out[1:] - bias) / step).T.contiguous(), bias  # (m, d), (m,)


def _reverse(t: _Target, chunk_size: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Row j of W is ∇f_j: one forward pass at 0, then the output basis pulled back in vmapped
    chunks; where vmap cannot go through f, a plain autograd pass over a batch of copies."""
    try:
        return _reverse_vmapped(t, chunk_size, device)
    except Exception:  # no batching rule, an unused input, a private API gone: the plain pass
        return _reverse_batched(t, chunk_size, device)


def _reverse_vmapped(t: _Target, chunk_size: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward at 0, then k cotangents eⱼ at a time through the engine under
    ``torch.func.vmap``. The engine is called directly (what ``torch.autograd.grad`` does
    inside): ``autograd.grad`` with a cotangent tensor imports torch.fx's symbolic shapes and
    sympy, and ``torch.func.jacrev`` imports torch._dynamo — seconds in a fresh process against
    milliseconds for the pass."""
    from torch.autograd.graph import _engine_run_backward

    d, m = t.d_in, t.d_out
    x = torch.zeros((1, *t.in_shape), dtype=torch.float64, device=device, requires_grad=True)  # (1, *in_shape)
    with torch.enable_grad():
        y = t.fn(x).reshape(m)  # (m,)

    def pull(v: torch.Tensor) -> torch.Tensor:
        (g,) = _engine_run_backward((y,), (v,), True, False, (x,), False, False)
        return g

    weight = torch.empty((m, d), dtype=torch.float64, device=device)
    eye = torch.eye(m, dtype=torch.float64, device=device)
    for start in range(0, m, chunk_size):
        rows = eye[start : start + chunk_size]  # (k, m)
        weight[start : start + rows.shape[0]] = torch.func.vmap(pull)(rows).reshape(rows.shape[0], d)
    return weight, y.detach()  # (m, d), (m,)


# ----------------------------------------------------------------------------------------
# Reverse mode without autograd, for a Sequential of plain layers


def _plain_layers(seq: nn.Sequential) -> list[nn.Module] | None:
    """The leaves of ``seq`` when every one is exactly an nn.Linear, an ungrouped zero-padded
    nn.Conv2d, an nn.Flatten or an nn.Identity and no forward hook is set anywhere (so that each
    computes what its class says), else None."""
    from torch.nn.modules import module as torch_module

    if torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks:
        return None
    out: list[nn.Module] = []
    for mod in seq.children():
        if mod._forward_hooks or mod._forward_pre_hooks:
            return None
        if type(mod) is nn.Sequential:
            inner = _plain_layers(mod)
            if inner is None:
                return None
            out += inner
        elif type(mod) in (nn.Linear, nn.Flatten, nn.Identity) or (
            type(mod) is nn.Conv2d and mod.groups == 1 and mod.padding_mode == "zeros" and not isinstance(mod.padding, str)
        ):
            out.append(mod)
        else:
            return None
    return out


def _conv_pullback(g: torch.Tensor, conv: nn.Conv2d, in_shape: tuple[int, ...]) -> torch.Tensor:
    """Cotangents (O, H', W', m) on ``conv``'s output → on its input (C, H, W, m), the m
    cotangents last: the transpose of the convolution. One matrix product gives every output
    pixel's patch pulled back, then each patch is added where it was read from (m contiguous
    doubles at a time). torch's float64 convolution backward runs a small product per cotangent
    and costs about 1.5× this here."""
    o, ho, wo, m = g.shape
    c, h, w = in_shape[-3:]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    weight = conv.weight.detach().permute(1, 2, 3, 0).reshape(c * kh * kw, o)  # rows (c, p, q)
    patches = (weight @ g.reshape(o, ho * wo * m)).view(c, kh, kw, ho, wo, m)
    out = torch.zeros((c, h + 2 * ph, w + 2 * pw, m), dtype=g.dtype, device=g.device)
    if ho * wo <= kh * kw:  # fewer output pixels than taps: add patch by patch
        for y in range(ho):
            for x in range(wo):
                out[:, y * sh : y * sh + dh * (kh - 1) + 1 : dh, x * sw : x * sw + dw * (kw - 1) + 1 : dw] += patches[:, :, :, y, x]
    else:  # tap by tap: tap (p, q) of every output pixel lands on a strided grid
        for p in range(kh):
            for q in range(kw):
                out[:, p * dh : p * dh + sh * (ho - 1) + 1 : sh, q * dw : q * dw + sw * (wo - 1) + 1 : sw] += patches[:, p, q]
    return out[:, ph : ph + h, pw : pw + w]  # (c, h, w, m), a view when padded


def _reverse_plain(t: _Target, device: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """W read off the layers of ``t.module`` (the model's float64 copy, or its folded copy) —
    the output basis pulled back layer by layer with their transposes (W = Wₙ ⋯ W₁ for linear
    layers, a transposed convolution for a conv) — and b = f(0); None when a layer is not plain (``_plain_layers``) or when W disagrees with
    the function's own values (``_gradients_disagree``): then autograd builds it."""
    layers = _plain_layers(t.module) if isinstance(t.module, nn.Sequential) else None
    if not layers:
        return None
    shapes = []  # each layer's input shape, without the batch dimension
    step = _CHECK_STEP * _check_direction(t, device)
    h = torch.stack([torch.zeros_like(step), step, -step])
    with torch.no_grad():  # f(0) (the bias) and f(±εv) (for the check of W), sizing the layers on the way
        for mod in layers:
            shapes.append(tuple(h.shape[1:]))
            h = mod(h)
    if tuple(h.shape[1:]) != t.out_shape:
        return None
    m = t.d_out
    # g: cotangents on the current layer's output, (*its shape, m) — the m output rows last, so
    # that a Linear's pullback is one product and a conv's reads them without a transpose
    g = torch.eye(m, dtype=torch.float64, device=device).reshape(*t.out_shape, m)
    identity = True  # g is still the identity
    for mod, shape in zip(reversed(layers), reversed(shapes)):
        if isinstance(mod, nn.Linear) and identity and len(shape) == 1:
            g = mod.weight.detach().T  # the identity pulled back through the last Linear: its weight
        elif isinstance(mod, nn.Linear):  # acts on the last axis of its input: (..., out, m) → (..., in, m)
            g = torch.matmul(mod.weight.detach().T, g)
        elif isinstance(mod, nn.Conv2d):
            if len(shape) != 3:
                return None  # an unbatched or 5-D use: leave it to autograd
            g = _conv_pullback(g.contiguous(), mod, shape)
        else:  # Flatten, Identity: a reshape
            g = g.reshape(*shape, m)
            continue
        identity = False
    weight = g.reshape(t.d_in, m).T.contiguous()  # (m, d_in)
    bias = h[0].reshape(m)
    return None if _gradients_disagree(t, weight, bias, device, f_pm=h[1:]) else (weight, bias)


def _reverse_batched(t: _Target, chunk_size: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Row j of W is ∇f_j, for k rows at a time: f runs on a batch of k copies of 0 and one
    plain autograd pass pulls back Σᵢ yᵢ[j₀ + i], whose gradient's row i is ∇f_{j₀+i} (rows of
    a batch are independent). Costs a forward pass over k rows where vmap costs one."""
    d, m = t.d_in, t.d_out
    weight = torch.empty((m, d), dtype=torch.float64, device=device)
    bias = None
    for start in range(0, m, chunk_size):
        k = min(chunk_size, m - start)
        x = torch.zeros((k, *t.in_shape), dtype=torch.float64, device=device, requires_grad=True)  # (k, *in_shape)
        with torch.enable_grad():
            y = t.fn(x).reshape(k, m)  # (k, m), every row f(0)
            total = y[:, start : start + k].diagonal().sum()
        (grad,) = torch.autograd.grad(total, x)
        weight[start : start + k] = grad.reshape(k, d)
        bias = y[0].detach() if bias is None else bias
    return weight, bias  # (m, d), (m,)


_CHECK_STEP = 1e-3  # ε of the direction check


def _check_direction(t: _Target, device: str) -> torch.Tensor:
    """The fixed random direction v (*in_shape) along which ``_gradients_disagree`` checks W."""
    g = torch.Generator().manual_seed(12345)
    return torch.rand(t.in_shape, generator=g, dtype=torch.float64).mul_(2).sub_(1).to(device)


def _gradients_disagree(
    t: _Target, weight: torch.Tensor, bias: torch.Tensor, device: str, f_pm: torch.Tensor | None = None
) -> str:
    """Why reverse-mode W cannot be trusted, or "": along one random direction v, the function's
    own difference quotient (f(εv) − f(0)) / ε must match W v. A forward that runs under
    torch.no_grad(), calls .detach() or uses a straight-through autograd.Function has
    gradients that are not its values' — then they differ by far more than ε.

    Only where f is affine on the segment from −εv to εv can the quotient be compared: a ReLU
    net with a unit whose kink lies within ε of the point bends there, its one-sided quotients
    differ, and W (the gradient at the point) is not judged here — the affinity test judges f.
    ``f_pm``: f(εv) and f(−εv), (2, *out_shape), when the caller has computed them already."""
    v = _check_direction(t, device)  # (*in_shape)
    eps = _CHECK_STEP
    if f_pm is None:
        with torch.no_grad():
            f_pm = t.fn(torch.stack([eps * v, -eps * v]))
    f_plus, f_minus = f_pm.reshape(2, -1)  # (m,) each
    quotient, back = (f_plus - bias) / eps, (bias - f_minus) / eps  # forward and backward quotients
    wv = weight @ v.reshape(-1)  # (m,)
    scale = max(wv.abs().max().item(), quotient.abs().max().item(), 1e-300)
    err = (quotient - wv).abs().max().item()
    # the quotient's own rounding at the working precision (float32 black boxes: ~1e-4 here);
    # gradients cut by no_grad or detach are off by the whole of W v
    rounding = 64 * torch.finfo(t.dtype).eps * max(f_plus.abs().max().item(), f_minus.abs().max().item(),
                                                   bias.abs().max().item()) / eps
    if math.isfinite(err) and err <= 0.01 * scale + rounding:
        return ""
    bend = (quotient - back).abs().max().item()
    if math.isfinite(bend) and bend > 0.01 * scale + rounding:
        return ""  # f bends within ε of the point: nothing to compare W with here
    return (f"reverse-mode gradients disagree with the function's values (relative {err / scale:.2g} along a random "
            "direction): torch.no_grad(), .detach() or a straight-through autograd.Function inside forward?")


def _eval_batched(t: _Target, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([t.fn(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])
