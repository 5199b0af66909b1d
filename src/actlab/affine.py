"""Exact collapse of an affine function into one map, and the affinity test.

For an affine f: ℝ^d → ℝ^m, f(x) = W x + b, and exactly

    b        = f(0)
    W[:, i]  = f(e_i) − f(0)        forward probing: d + 1 evaluations, batched in chunks
    W[j, :]  = ∇ₓ f_j               reverse mode: one batched vector-Jacobian product with
                                    the m output basis vectors as cotangents

whichever is cheaper for the shapes. No regression, no sample count that must exceed d.

The result is certified on fresh points x at several scales s (x ~ U(−s, s)^d):
the relative residual max‖f(x) − (Wx + b)‖∞ / max‖f(x)‖∞ is compared with a tolerance set
from the working dtype's machine epsilon (``tolerance_for``).

``check_affine`` adds the combination test: for random pairs (x, y) and α drawn also
outside [0, 1], an affine f satisfies f(αx + (1−α)y) = α f(x) + (1−α) f(y). Pairs include
(x, −x) and points far apart, so that they straddle the kinks of piecewise-linear nets
(a ReLU net is affine inside each of its linear regions). The verdict is about the probed
domain only, and says so.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ._folding import fold_for_reverse
from .onnx_model import OnnxFunction, as_callable
from ._tolerance import ratio, relative_error, tolerance_for
from ._probing import (
    _basis_probe,
    _check_in_shape,
    _eval_batched,
    _gradients_disagree,
    _prepare,
    _resolve_device,
    _reverse,
    _reverse_plain,
    _Target,
    _to_torch,
)

__all__ = [
    "AffineMap",
    "AffineCheck",
    "collapse",
    "check_affine",
    "tolerance_for",
    "relative_error",
    "NotAffineError",
    "NonFiniteError",
    "DEFAULT_SCALES",
    "DEFAULT_MAX_BYTES",
    "map_on_data",
]

_NEAR_MISS = 1e3  # a probed map whose certificate misses by less than this factor is probed again (collapse)
DEFAULT_SCALES: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)  # probed boxes U(−s, s)^d; large s reach far kinks
DEFAULT_MAX_BYTES = 4 * 2**30  # refuse to build a float64 W larger than this (4 GiB)


class NotAffineError(ValueError):
    """collapse(strict=True) found the function is not affine on the probed domain."""


class NonFiniteError(ValueError):
    """The function returned inf or NaN on the probed domain."""


class MapTooLargeError(ValueError):
    """The collapsed float64 weight would exceed ``max_bytes``."""


# ----------------------------------------------------------------------------------------
# The map


class AffineMap:
    """x ↦ W·flatten(x) + b, reshaped to ``out_shape``. float64 unless built otherwise."""

    def __init__(
        self,
        weight: torch.Tensor,  # (m, d)
        bias: torch.Tensor,  # (m,)
        in_shape: Sequence[int],
        out_shape: Sequence[int],
        *,
        method: str = "given",
        seconds: float = 0.0,
        residual: float | None = None,
        tolerance: float | None = None,
        precision: str = "float64",
        folded: Sequence[str] = (),
    ):
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape)
        m, d = math.prod(self.out_shape), math.prod(self.in_shape)
        if tuple(weight.shape) != (m, d) or tuple(bias.shape) != (m,):
            raise ValueError(
                f"weight must be ({m}, {d}) and bias ({m},) for in_shape {self.in_shape} and out_shape "
                f"{self.out_shape}; got {tuple(weight.shape)} and {tuple(bias.shape)}"
            )
        self.weight = weight
        self.bias = bias
        self.method = method  # "forward", "reverse" or "given"
        self.seconds = seconds  # time to build W and b (verification excluded)
        self.residual = residual  # relative residual on fresh points, None if not verified
        self.tolerance = tolerance
        self.precision = precision
        self.folded = tuple(folded)  # layer merges applied to the float64 copy before building W

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @property
    def verified(self) -> bool:
        return self.residual is not None and self.tolerance is not None and self.residual <= self.tolerance

    def rank(self, rtol: float | None = None) -> int:
        """Numerical rank of W: singular values above σ_max · rtol, by default the larger of
        max(m, d) · eps and the map's tolerance — below the precision the map was certified to,
        a singular value is rounding."""
        if rtol is None:
            eps = torch.finfo(self.weight.dtype).eps * max(self.weight.shape)
            rtol = max(eps, self.tolerance or 0.0)
        return int(torch.linalg.matrix_rank(self.weight, rtol=rtol).item())

    def __call__(self, x: Any) -> Any:
        """Apply to a batch (N, *in_shape): torch in → torch out, numpy in → numpy out."""
        as_numpy = isinstance(x, np.ndarray)
        t = torch.as_tensor(x, dtype=self.weight.dtype, device=self.weight.device)
        if tuple(t.shape[1:]) != self.in_shape:
            raise ValueError(f"expected a batch of shape (N, {', '.join(map(str, self.in_shape))}), got {tuple(t.shape)}")
        y = (t.reshape(t.shape[0], -1) @ self.weight.T + self.bias).reshape(t.shape[0], *self.out_shape)
        return y.cpu().numpy() if as_numpy else y

    def to_module(self) -> nn.Module:
        """An nn.Module with the same outputs (one Linear between a flatten and a reshape)."""
        return _AffineModule(self)

    def _repr_html_(self) -> str:
        from ._html import affine_map_html

        return affine_map_html(self)

    def to_dict(self) -> dict:
        return {
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "rank": self.rank(),
            "method": self.method,
            "seconds": self.seconds,
            "residual": self.residual,
            "tolerance": self.tolerance,
            "verified": self.verified,
            "precision": self.precision,
            "folded": list(self.folded),
        }

    def __repr__(self) -> str:
        cert = (
            "unverified"
            if self.residual is None
            else f"residual {self.residual:.1e} {'≤' if self.verified else '>'} tol {self.tolerance:.1e}"
        )
        return (
            f"AffineMap(in_shape={self.in_shape}, out_shape={self.out_shape}, rank={self.rank()}, "
            f"method={self.method!r}, {cert})"
        )


class _AffineModule(nn.Module):
    def __init__(self, m: AffineMap):
        super().__init__()
        self.in_shape, self.out_shape = m.in_shape, m.out_shape
        self.linear = nn.Linear(m.in_features, m.out_features, dtype=m.weight.dtype, device=m.weight.device)
        with torch.no_grad():
            self.linear.weight.copy_(m.weight)
            self.linear.bias.copy_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1)).reshape(x.shape[0], *self.out_shape)


# ----------------------------------------------------------------------------------------
# Collapse


def _uniform(shape: tuple[int, ...], scale: float, gen: torch.Generator, device: str) -> torch.Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).mul_(scale).to(device)


def _ensure_finite(y: torch.Tensor, what: str) -> None:
    # a sum is finite only if every term is (one reduction); when it is not, check element-wise
    if (y.is_floating_point() and math.isfinite(y.sum().item())) or bool(torch.isfinite(y).all()):
        return
    n_bad = int((~torch.isfinite(y)).sum())
    raise NonFiniteError(
        f"{what} contains {n_bad} non-finite values (inf or NaN): the function overflows on the probed "
        "domain, so affinity cannot be certified there; probe a smaller domain (inputs=...) or rescale the model"
    )


def _collapse_target(
    t: _Target,
    method: str,
    chunk_size: int,
    max_bytes: int,
    device: str,
    fold_model: Any = None,
    at: torch.Tensor | None = None,
    step: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, str, float, tuple[str, ...]]:
    """W and b of ``t``, the method used, the seconds taken and the merges applied: with
    ``fold_model`` (the model behind ``t``), through its cost-aware fold where there is one.

    ``at`` (one input, ``in_shape``): linearise there instead of at 0 — W is built for
    u ↦ f(at + u) and b = f(at) − W·at, so that a function affine only on a region away from 0
    (a ReLU net whose data stays in one linear region) gets the map of that region."""
    n_bytes = t.d_in * t.d_out * 8
    if n_bytes > max_bytes:
        raise MapTooLargeError(
            f"the collapsed weight would be {t.d_out:,} × {t.d_in:,} float64 = {n_bytes / 2**30:.2f} GiB, above "
            f"max_bytes={max_bytes / 2**30:.2f} GiB; pass a larger max_bytes to build it anyway"
        )
    if method not in ("auto", "forward", "reverse"):
        raise ValueError(f"method must be 'auto', 'forward' or 'reverse', got {method!r}")
    if method == "reverse" and not t.differentiable:
        raise ValueError(f"method='reverse' needs a differentiable torch function; this one is a {t.description}")
    if method == "auto":
        # reverse costs ~3 forward passes per output row (forward + backward), probing one per input
        method = "reverse" if t.differentiable and 3 * t.d_out < t.d_in + 1 else "forward"
    t0 = time.perf_counter()
    t, merges = _folded_target(fold_model, t, device) if fold_model is not None else (t, ())
    if at is not None:
        at = at.to(device=device, dtype=torch.float64).reshape(1, *t.in_shape)
        t = _Target(
            fn=lambda u, fn=t.fn: fn(u + at), in_shape=t.in_shape, out_shape=t.out_shape, dtype=t.dtype,
            differentiable=t.differentiable, description=t.description,
        )
    fold_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = _reverse_plain(t, device) if method == "reverse" else None  # checked against f's values inside
    if plain is not None:
        weight, bias = plain
    elif method == "reverse":
        try:
            weight, bias = _reverse(t, chunk_size, device)
        except Exception:  # autograd does not go through this callable: probe instead
            method = "forward"
            t0 = time.perf_counter()
        else:
            why = _gradients_disagree(t, weight, bias, device)
            if why:  # autograd sees another function than the values (no_grad, detach, straight-through)
                warnings.warn(f"{why}: W is built by forward probing instead", stacklevel=3)
                method = "forward"
                t0 = time.perf_counter()
    if method == "forward":
        weight, bias = _basis_probe(t, chunk_size, device, step)
    if at is not None:
        bias = bias - weight @ at.reshape(-1)  # f(at) − W·at
    seconds = fold_seconds + time.perf_counter() - t0
    _ensure_finite(bias, "f(0)" if at is None else "f at the linearisation point")
    _ensure_finite(weight, "the collapsed weight")
    return weight.detach(), bias.detach(), method, seconds, merges


def _folded_target(model: Any, t: _Target, device: str) -> tuple[_Target, tuple[str, ...]]:
    """``t`` computed by a float64 copy of ``model`` with its conv/pool/BatchNorm pairs folded
    (actlab._folding), when ``model`` is a Sequential where that is cheaper; else ``t``."""

    try:
        sample = torch.zeros((1, *t.in_shape), dtype=torch.float64, device=device)  # shapes only
        got = fold_for_reverse(model, sample, work=t.module if isinstance(t.module, nn.Sequential) else None)
    except Exception:  # not copyable, or a rule met a module it cannot run: build W from the model itself
        got = None
    if got is None:
        return t, ()
    folded, report = got
    fast = _Target(
        fn=lambda x: _to_torch(folded(x), x.shape[0], "the model").to(torch.float64),
        in_shape=t.in_shape,
        out_shape=t.out_shape,
        dtype=t.dtype,
        differentiable=True,
        description=f"{t.description}, folded",
        module=folded,
    )
    return fast, tuple(report.merged)


def _map_residual(t: _Target, weight, bias, scales, n_points, gen, device) -> tuple[float, dict]:
    """Worst relative residual of Wx + b against f on fresh points, ``n_points`` at each scale,
    all scales in one batch (one call of f where it fits); each scale's residual is relative to
    its own outputs."""
    k = len(scales)
    x = torch.rand((k * n_points, *t.in_shape), generator=gen, dtype=torch.float64)  # (P·k, *in_shape)
    row_scale = torch.tensor(scales, dtype=torch.float64).repeat_interleave(n_points)  # (P·k,)
    x = x.mul_(2).sub_(1).mul_(row_scale.reshape(-1, *[1] * len(t.in_shape))).to(device)  # U(−s, s) per row
    y = _eval_batched(t, x).reshape(x.shape[0], -1)  # (P·k, m)
    if not bool(torch.isfinite(y).all()):
        bad = (~torch.isfinite(y)).any(dim=1).nonzero()[0, 0].item() // n_points
        _ensure_finite(y[bad * n_points : (bad + 1) * n_points], f"f(x) at scale {scales[bad]:g}")
    err = (torch.addmm(bias, x.reshape(x.shape[0], -1), weight.T) - y).abs().reshape(k, -1)  # (k, P·m)
    num, den = err.amax(dim=1).tolist(), y.abs().reshape(k, -1).amax(dim=1).tolist()
    rel = [ratio(a, b) for a, b in zip(num, den)]  # relative_error of each scale
    i = max(range(k), key=lambda i: (rel[i], i))  # the worst scale, the last of ties
    rows = err[i].reshape(n_points, -1).amax(dim=1)
    j = int(rows.argmax())
    return rel[i], {"test": "map", "scale": scales[i], "x": x[i * n_points + j].cpu()}


def _data_step(inputs: torch.Tensor, dtype: torch.dtype = torch.float64) -> float:
    """A probing step inside the inputs' spread: a tenth of their largest coordinate deviation in
    float64, the whole deviation at a lower precision (much smaller steps lose digits to
    cancellation in f(x̄ + h eᵢ) − f(x̄); in float32 each column of W carries ~eps·|f|/h, summed
    over d inputs: a 12,288-input ONNX graph missed its 1.2e-4 tolerance at a tenth)."""
    spread = inputs.reshape(inputs.shape[0], -1).std(dim=0).max().item() if inputs.shape[0] > 1 else 0.0
    share = 0.1 if dtype == torch.float64 else 1.0
    return share * spread if math.isfinite(spread) and spread > 0 else 1e-3


def _data_residual(
    t: _Target, weight: torch.Tensor, bias: torch.Tensor, inputs: torch.Tensor, outputs: torch.Tensor | None = None
) -> tuple[float, dict]:
    """Relative residual of Wx + b against f on the given inputs (``outputs``: f(inputs) when
    already computed), and the worst input."""
    n = inputs.shape[0]
    y = (_eval_batched(t, inputs) if outputs is None else outputs.to(torch.float64)).reshape(n, -1)  # (N, m)
    _ensure_finite(y, "f(inputs)")
    pred = inputs.reshape(n, -1) @ weight.T + bias  # (N, m)
    i = int((pred - y).abs().amax(dim=1).argmax())
    return relative_error(pred - y, y), {"test": "map", "where": "inputs", "x": inputs[i].cpu()}


def _certified_map(
    t: _Target, model_or_fn: Any, tol: float, device: str, *, method: str = "auto", chunk_size: int = 256,
    max_bytes: int = DEFAULT_MAX_BYTES, fold: bool = True, inputs: torch.Tensor | None = None,
    outputs: torch.Tensor | None = None, scales: tuple[float, ...] | None = None, n_points: int = 4,
    gen: torch.Generator | None = None,
) -> tuple[AffineMap, dict]:
    """W and b of ``t`` as an AffineMap, with its residual and the worst point: on ``inputs``
    (the map linearised at their mean) when given; else on ``n_points`` fresh points per scale
    drawn from ``gen`` — a forward-probed map that misses by a rounding margin is probed again
    (``_reprobe``); ``scales`` None: not certified (residual None)."""
    at, step = (None, 1.0) if inputs is None else (inputs.mean(dim=0), _data_step(inputs, t.dtype))
    weight, bias, used, seconds, merges = _collapse_target(
        t, method, chunk_size, max_bytes, device, fold_model=model_or_fn if fold else None, at=at, step=step
    )
    m = AffineMap(
        weight, bias, t.in_shape, t.out_shape, method=used, seconds=seconds, tolerance=tol,
        precision=str(t.dtype).removeprefix("torch."), folded=merges,
    )
    witness: dict = {}
    if inputs is not None:
        m.residual, witness = _data_residual(t, weight, bias, inputs, outputs)
    elif scales is not None:
        points = gen.get_state()  # the reprobe certifies the same points again
        m.residual, witness = _map_residual(t, weight, bias, scales, n_points, gen, device)
        if used == "forward" and tol < m.residual <= _NEAR_MISS * tol:
            witness = _reprobe(m, t, scales, n_points, gen, points, chunk_size, device) or witness
    return m, witness


def map_on_data(
    model_or_fn: Any,
    inputs: torch.Tensor,
    outputs: torch.Tensor | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    rtol: float | None = None,
    device: str = "cpu",
) -> AffineMap:
    """The affine map of ``model_or_fn`` on the region its ``inputs`` (N, *in_shape) span:
    linearised at their mean, certified on the inputs themselves (``outputs``: the model's
    outputs on them, when already known — saves one forward pass). The map's ``residual``
    against its ``tolerance`` says whether it holds there; nothing is raised when it does not."""
    model_or_fn = as_callable(model_or_fn)
    inputs = torch.as_tensor(inputs).to(device=device, dtype=torch.float64)
    t = _prepare(model_or_fn, tuple(inputs.shape[1:]), device)
    tol = tolerance_for(t.dtype) if rtol is None else float(rtol)
    return _certified_map(t, model_or_fn, tol, device, max_bytes=max_bytes, inputs=inputs, outputs=outputs)[0]


def collapse(
    model_or_fn: Any,
    in_shape: Sequence[int] | None = None,
    *,
    method: str = "auto",
    verify: bool = True,
    strict: bool = True,
    seed: int = 0,
    scales: Sequence[float] = DEFAULT_SCALES,
    n_points: int = 4,
    rtol: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    chunk_size: int = 256,
    device: str = "cpu",
    fold: bool = True,
) -> AffineMap:
    """Collapse an affine model or function into one exact ``AffineMap``.

    Args:
        model_or_fn: a ``torch.nn.Module`` (a float64 copy is used; the original is untouched),
            any callable on batches ``(N, *in_shape)`` of torch tensors or numpy arrays, or the
            path of an ``.onnx`` file (run with onnxruntime at the graph's precision).
        in_shape: the shape of one input, without the batch dimension (an ONNX file declares it).
        method: ``"forward"`` (probe with the d+1 basis inputs), ``"reverse"`` (one batched
            vector-Jacobian product with the output basis) or ``"auto"`` (the cheaper).
        verify: certify the map on ``n_points`` fresh points per scale in ``scales`` (default 4 × 5
            scales: an affine f is pinned by any point, a nonlinear one misses its linearisation
            almost everywhere; ``check_affine`` is the thorough test).
        strict: raise ``NotAffineError`` when verification fails; otherwise return the map
            (then the linearisation at 0) with its residual.
        rtol: tolerance for verification; default ``tolerance_for`` the working precision.
        max_bytes: refuse to build a float64 W larger than this.
        fold: for an ``nn.Sequential``, first fold conv/average-pool/BatchNorm(eval) pairs of the
            float64 copy into single convolutions where that costs fewer multiply-adds (exact
            rewrites, listed in ``AffineMap.folded``; the time counts in ``seconds``). W is then
            pulled back through fewer, strided layers. Verification always runs the model itself.
    """
    model_or_fn, in_shape = _with_shape(model_or_fn, in_shape)
    t = _prepare(model_or_fn, in_shape, device)
    device = _resolve_device(device)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be ≥ 1, got {chunk_size}")
    tol = tolerance_for(t.dtype) if rtol is None else float(rtol)
    scales = _check_scales(scales) if verify else None
    m, witness = _certified_map(t, model_or_fn, tol, device, method=method, chunk_size=chunk_size, max_bytes=max_bytes,
                                fold=fold, scales=scales, n_points=n_points, gen=torch.Generator().manual_seed(seed))
    if verify:
        if strict and not m.verified:
            raise NotAffineError(
                f"not affine on the probed domain: relative residual {m.residual:.3g} > tolerance {tol:.3g} "
                f"(worst at scale {witness.get('scale')}); actlab.check_affine diagnoses it, strict=False returns "
                "the linearisation at 0"
            )
    return m


def _with_shape(model_or_fn: Any, in_shape: Any) -> tuple[Any, Any]:
    """An ONNX file's path opened as an ``OnnxFunction``, whose graph gives ``in_shape`` when it is None."""
    model_or_fn = as_callable(model_or_fn)
    if in_shape is None and isinstance(model_or_fn, OnnxFunction):
        in_shape = model_or_fn.in_shape
    if in_shape is None:
        raise ValueError("in_shape is required (the shape of one input, without the batch dimension), got None")
    return model_or_fn, in_shape


def _reprobe(m: AffineMap, t: _Target, scales, n_points: int, gen: torch.Generator, points: torch.Tensor,
             chunk_size: int, device: str) -> dict | None:
    """A probed map that missed its certificate by a rounding margin, probed again.

    Forward probing's W carries ~eps·|f(0)|/h per entry: where the bias dwarfs W, that rounding
    alone can exceed the tolerance at the largest scale. Probe again with the step h = |b|/|W|
    that balances the two and certify the same points again (``points``: the generator's state
    they were drawn from); ``m`` takes the new W, b and residual if they are better (a nonlinear
    f stays refused). Returns the new witness, or None."""
    w_max, b_max = m.weight.abs().max().item(), m.bias.abs().max().item()
    step = min(b_max / w_max, 1e12) if w_max > 0 else 1.0
    if not step > 1.0:
        return None
    weight, bias = _basis_probe(t, chunk_size, device, step)
    gen.set_state(points)
    residual, witness = _map_residual(t, weight, bias, scales, n_points, gen, device)
    if residual >= m.residual:
        return None
    m.weight, m.bias, m.residual = weight.detach(), bias.detach(), residual
    return witness


def _check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(s) for s in scales)
    if not out or any(not (math.isfinite(s) and s > 0) for s in out):
        raise ValueError(f"scales must be a non-empty sequence of positive finite numbers, got {scales!r}")
    return out


# ----------------------------------------------------------------------------------------
# The affinity test


@dataclass(frozen=True)
class AffineCheck:
    """Verdict of ``check_affine`` on the probed domain."""

    is_affine: bool
    verdict: str  # "affine", "not affine" or "non-finite"
    residual: float  # max of the two tests' relative residuals (inf if non-finite)
    tolerance: float
    combination_residual: float
    map_residual: float
    domain: str  # what was probed
    precision: str  # dtype the function computes in (sets the tolerance)
    message: str
    witness: dict = field(default_factory=dict, repr=False)  # where it fails most
    map: AffineMap | None = field(default=None, repr=False)  # the collapsed map (at 0, or at the inputs' mean)

    def to_dict(self) -> dict:
        w = {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in self.witness.items()}
        return {
            "is_affine": self.is_affine,
            "verdict": self.verdict,
            "residual": self.residual,
            "tolerance": self.tolerance,
            "combination_residual": self.combination_residual,
            "map_residual": self.map_residual,
            "domain": self.domain,
            "precision": self.precision,
            "message": self.message,
            "witness": w,
            "map": None if self.map is None else self.map.to_dict(),
        }

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        from ._html import affine_check_html

        return affine_check_html(self)


def _pairs(
    t: _Target, inputs: torch.Tensor | None, scales, n_pairs: int, gen: torch.Generator, device: str
) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(label, x, y) batches of pairs that straddle kinks: random pairs, and (x, −x) when the box is symmetric."""
    out = []
    if inputs is None:
        for s in scales:
            x = _uniform((n_pairs, *t.in_shape), s, gen, device)
            y = _uniform((n_pairs, *t.in_shape), s, gen, device)
            y[: n_pairs // 4] = -x[: n_pairs // 4]  # pairs through the origin cross every bias-free kink
            out.append((f"scale {s:g}", x, y))
    else:
        n = inputs.shape[0]
        i = torch.randint(n, (n_pairs,), generator=gen)
        j = torch.randint(n, (n_pairs,), generator=gen)
        out.append(("inputs", inputs[i].to(device), inputs[j].to(device)))
    return out


def _combination_test(t: _Target, inp: torch.Tensor | None, scales, n_pairs: int, gen: torch.Generator,
                      device: str) -> tuple[float, dict]:
    """The worst relative residual of f(αx + (1−α)y) against αf(x) + (1−α)f(y) over the pairs
    of ``_pairs``, and where it was."""
    comb, witness = 0.0, {}
    for label, x, y in _pairs(t, inp, scales, n_pairs, gen, device):
        p = x.shape[0]
        # α ∈ [−1, 2) leaves the segment to straddle more kinks; on given inputs α ∈ [0, 1)
        # keeps the probe inside their convex hull, the domain the user asked about
        lo, width = (0.0, 1.0) if inp is not None else (-1.0, 3.0)
        alpha = (torch.rand(p, generator=gen, dtype=torch.float64) * width + lo).to(device)  # (P,)
        a = alpha.reshape(p, *([1] * len(t.in_shape)))
        z = a * x + (1 - a) * y
        fx, fy, fz = (_eval_batched(t, v).reshape(p, -1) for v in (x, y, z))  # (P, m) each
        for v, name in ((fx, "f(x)"), (fy, "f(y)"), (fz, "f(αx + (1−α)y)")):
            _ensure_finite(v, f"{name} ({label})")
        rhs = alpha[:, None] * fx + (1 - alpha[:, None]) * fy  # (P, m)
        ref = torch.maximum(fz.abs(), torch.maximum((alpha[:, None] * fx).abs(), ((1 - alpha[:, None]) * fy).abs()))
        r = relative_error(fz - rhs, ref)
        if r >= comb:
            i = int((fz - rhs).abs().amax(dim=1).argmax())
            comb = r
            witness = {"test": "combination", "where": label, "x": x[i].cpu(), "y": y[i].cpu(), "alpha": float(alpha[i])}
    return comb, witness


def check_affine(
    model_or_fn: Any,
    in_shape: Sequence[int] | None = None,
    inputs: Any = None,
    seed: int = 0,
    *,
    n_pairs: int = 64,
    scales: Sequence[float] = DEFAULT_SCALES,
    rtol: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    device: str = "cpu",
) -> AffineCheck:
    """Test whether ``model_or_fn`` is affine on a probed domain.

    Two tests, both relative residuals against the output scale:
      * combination: f(αx + (1−α)y) vs α f(x) + (1−α) f(y) for random pairs
        (a quarter of them (x, −x)) — catches kinks and curvature anywhere between the pair;
      * map: the exact collapse W x + b (``collapse``) vs f on fresh points.

    Domain: without ``inputs``, the boxes U(−s, s)^d for s in ``scales`` (default 0.1 … 1000),
    with α ~ U(−1, 2); with ``inputs`` (a batch (N, *in_shape)), random pairs of those points
    with α ~ U(0, 1) (their convex hull), and the map — linearised at the inputs' mean, a point of
    that domain, so b = f(x̄) − W x̄ — tested on the inputs themselves. A function affine on the
    probed domain may still be nonlinear elsewhere: the verdict says "on the probed domain".
    If the collapsed W would exceed ``max_bytes`` only the combination test runs.
    """
    model_or_fn = as_callable(model_or_fn)
    if in_shape is None and inputs is None and isinstance(model_or_fn, OnnxFunction):
        in_shape = model_or_fn.in_shape
    if inputs is not None:
        inp = torch.as_tensor(inputs).to(torch.float64)
        if inp.ndim < 2 or inp.shape[0] < 2:
            raise ValueError(f"inputs must be a batch (N ≥ 2, *in_shape), got shape {tuple(inp.shape)}")
        if in_shape is None:
            in_shape = tuple(inp.shape[1:])
        elif tuple(inp.shape[1:]) != _check_in_shape(in_shape):
            raise ValueError(f"inputs have shape {tuple(inp.shape)}, expected (N, *in_shape) with in_shape={tuple(in_shape)}")
    else:
        inp = None
        if in_shape is None:
            raise ValueError("check_affine needs in_shape or an inputs batch")
    if n_pairs < 2:
        raise ValueError(f"n_pairs must be ≥ 2, got {n_pairs}")
    scales = _check_scales(scales)
    device = _resolve_device(device)
    t = _prepare(model_or_fn, in_shape, device)
    tol = tolerance_for(t.dtype) if rtol is None else float(rtol)
    precision = str(t.dtype).removeprefix("torch.")
    domain = (
        f"{inp.shape[0]} given inputs and the segments between them; map linearised at their mean"
        if inp is not None
        else "boxes U(−s, s)^d for s ∈ {" + ", ".join(f"{s:g}" for s in scales) + "}"
    )
    gen = torch.Generator().manual_seed(seed)

    def result(verdict: str, comb: float, mres: float, witness: dict, amap, note: str = "") -> AffineCheck:
        residual = max(comb, mres)
        if verdict == "non-finite":
            msg = f"non-finite: {note}"
        elif verdict == "affine":
            msg = f"affine on the probed domain ({domain}): relative residual {residual:.2e} ≤ tolerance {tol:.2e} ({precision})"
        else:
            msg = f"not affine on the probed domain ({domain}): relative residual {residual:.3g} > tolerance {tol:.2e} ({precision})"
        if note and verdict != "non-finite":
            msg += f"; {note}"
        return AffineCheck(
            is_affine=verdict == "affine", verdict=verdict, residual=residual, tolerance=tol,
            combination_residual=comb, map_residual=mres, domain=domain, precision=precision,
            message=msg, witness=witness, map=amap,
        )

    try:
        comb, witness = _combination_test(t, inp, scales, n_pairs, gen, device)
    except NonFiniteError as exc:
        return result("non-finite", math.inf, math.inf, {}, None, str(exc))

    # map test
    mres, amap, note = 0.0, None, ""
    try:
        # on given inputs, linearise inside their convex hull (at their mean), never assume 0
        amap, mwit = _certified_map(t, model_or_fn, tol, device, max_bytes=max_bytes,
                                    inputs=None if inp is None else inp.to(device), scales=scales, n_points=n_pairs, gen=gen)
        mres = amap.residual
        if mres > comb:
            witness = mwit
    except NonFiniteError as exc:
        return result("non-finite", comb, math.inf, witness, None, str(exc))
    except MapTooLargeError as exc:
        note = "map test skipped: " + str(exc)
    verdict = "affine" if max(comb, mres) <= tol else "not affine"
    return result(verdict, comb, mres, witness, amap, note)
