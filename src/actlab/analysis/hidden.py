"""The hidden-nonlinearity catalogue: constructs that are nonlinear without any activation,
and constructs that look nonlinear but are affine — each verdict measured, not asserted.

Plus three demonstrations:
  * maxout with no activation solves XOR: max(x₁ − x₂, x₂ − x₁) = |x₁ − x₂|;
  * the square activation solves XOR ((x₁ − x₂)² = XOR on {0,1}²) but is not universal: a
    one-hidden-layer square network is a quadratic polynomial whatever its width, so its error
    on a smooth non-polynomial target can never beat the best quadratic fit (a closed form),
    while tanh networks go below it as they widen (Leshno et al. 1993);
  * floating point itself: with flush-to-zero, a float32 "linear" network that passes
    through the subnormal range is not affine (OpenAI, 2017).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..affine import check_affine

__all__ = ["Construct", "catalogue", "run_catalogue", "maxout_xor", "square_not_universal", "flush_to_zero_demo"]


@dataclass(frozen=True)
class Construct:
    name: str
    expected_affine: bool  # what the literature says (docs/design.md §2)
    explanation: str
    make: Callable[[], tuple[Callable, tuple[int, ...]]]  # -> (function on batches, in_shape)


class _Attention(nn.Module):
    def __init__(self, d: int = 4):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, 1, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)[0]


class _Gated(nn.Module):  # GLU-style gating, no activation at all: (W₁x) ⊙ (W₂x)
    def __init__(self, d: int = 4):
        super().__init__()
        self.a, self.b = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        return self.a(x) * self.b(x)


def _seeded(make_module: Callable[[], nn.Module], eval_mode: bool = True):
    def make():
        torch.manual_seed(0)
        m = make_module().double()
        return (m.eval() if eval_mode else m.train()), None

    return make


def catalogue() -> list[Construct]:
    def mod(m: Callable[[], nn.Module], shape, eval_mode=True):
        def make():
            fn, _ = _seeded(m, eval_mode)()
            return fn, shape

        return make

    def fn(f: Callable, shape):
        return lambda: (f, shape)

    img = (3, 8, 8)
    return [
        Construct("MaxPool2d(2)", False, "max over a window: picks a different input on each side of a tie", mod(lambda: nn.MaxPool2d(2), img)),
        Construct("AvgPool2d(2)", True, "a fixed average: linear (the article's 'pooling adds no nonlinearity' holds for this one)", mod(lambda: nn.AvgPool2d(2), img)),
        Construct("AvgPool2d(3, padding=1, count_include_pad=False)", True, "still linear: the divisor depends on the position, not on the values (but it is no longer a convolution)", mod(lambda: nn.AvgPool2d(3, 1, padding=1, count_include_pad=False), img)),
        Construct("LayerNorm", False, "divides by the input's own standard deviation: LN(2x) = LN(x)", mod(lambda: nn.LayerNorm(8), (8,))),
        Construct("BatchNorm1d, training mode", False, "normalises by the statistics of the batch it is given", mod(lambda: nn.BatchNorm1d(8), (8,), eval_mode=False)),
        Construct("BatchNorm1d, eval mode", True, "a fixed scale and shift from the running statistics", mod(lambda: nn.BatchNorm1d(8), (8,))),
        Construct("Dropout(0.5), training mode", False, "a random mask, redrawn at every call", mod(lambda: nn.Dropout(0.5), (8,), eval_mode=False)),
        Construct("Dropout(0.5), eval mode", True, "the identity", mod(lambda: nn.Dropout(0.5), (8,))),
        Construct("softmax attention", False, "softmax(QKᵀ/√d) V multiplies functions of the input", mod(lambda: _Attention(4), (5, 4))),
        Construct("gating (W₁x) ⊙ (W₂x), no activation", False, "a product of two affine maps is quadratic", mod(lambda: _Gated(4), (4,))),
        Construct("GLU", False, "one half of the input times a sigmoid of the other", mod(lambda: nn.GLU(), (8,))),
        Construct("Bilinear(x, x)", False, "xᵀ A x: quadratic", fn(lambda x: _bilinear()(x, x), (4,))),
        Construct("sort", False, "a permutation that depends on the values", fn(lambda x: torch.sort(x, dim=1).values, (6,))),
        Construct("abs", False, "|x| = max(x, −x): a kink at 0", fn(torch.abs, (6,))),
        Construct("Upsample(nearest)", True, "copies entries: fixed weights", mod(lambda: nn.Upsample(scale_factor=2, mode="nearest"), img)),
        Construct("Upsample(bilinear)", True, "interpolation with fixed weights", mod(lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), img)),
        Construct("PixelShuffle(2)", True, "a permutation of entries", mod(lambda: nn.PixelShuffle(2), (8, 4, 4))),
        Construct("zero padding", True, "appends constants: affine", fn(lambda x: F.pad(x, (1, 1, 1, 1)), img)),
        Construct("reflect padding", True, "copies entries: linear", fn(lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect"), img)),
        Construct("circular padding", True, "copies entries: linear", fn(lambda x: F.pad(x, (1, 1, 1, 1), mode="circular"), img)),
        Construct("ConvTranspose2d", True, "the adjoint of a convolution: linear", mod(lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), img)),
        Construct("grouped, dilated Conv2d", True, "still a convolution", mod(lambda: nn.Conv2d(4, 4, 3, groups=2, dilation=2), (4, 9, 9))),
        Construct("LeakyReLU(1.0)", True, "slope 1 on both sides: the identity", mod(lambda: nn.LeakyReLU(1.0), (6,))),
        Construct("LeakyReLU(0.01)", False, "two slopes: a kink at 0", mod(lambda: nn.LeakyReLU(0.01), (6,))),
    ]


def _bilinear() -> nn.Bilinear:
    torch.manual_seed(0)
    return nn.Bilinear(4, 4, 3).double()


def run_catalogue(seed: int = 0) -> list[dict]:
    """Each construct's measured verdict, residual and explanation."""
    rows = []
    for c in catalogue():
        f, shape = c.make()
        with torch.no_grad():
            chk = check_affine(f, in_shape=shape, seed=seed)
        rows.append(
            {
                "construct": c.name,
                "affine": chk.is_affine,
                "verdict": chk.verdict,
                "residual": chk.residual,
                "tolerance": chk.tolerance,
                "expected_affine": c.expected_affine,
                "agrees": chk.is_affine == c.expected_affine,
                "explanation": c.explanation,
            }
        )
    return rows


def maxout_xor() -> dict:
    """max(x₁ − x₂, x₂ − x₁) on the XOR points: two affine pieces, no activation."""
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    pieces = torch.stack([X[:, 0] - X[:, 1], X[:, 1] - X[:, 0]], dim=1)  # (4, 2): two affine maps
    out = pieces.max(dim=1).values
    return {"outputs": out.tolist(), "targets": y.tolist(), "mse": float(((out - y) ** 2).mean()), "solves": bool(torch.equal(out, y))}


def square_not_universal(widths=(2, 8, 32), n_seeds: int = 8, n_steps: int = 3000) -> dict:
    """Fit y = sin(3x) on [−2, 2] with one hidden layer of square or tanh units.

    Oracle: a square network is a quadratic polynomial in x, so its MSE is ≥ that of the
    least-squares quadratic, computed in closed form; tanh networks can go below it.
    """
    from ..train import TrainConfig, train_many

    x = np.linspace(-2, 2, 101)
    y = np.sin(3 * x)
    V = np.stack([np.ones_like(x), x, x**2], axis=1)
    coef, *_ = np.linalg.lstsq(V, y, rcond=None)
    best_quadratic = float(np.mean((V @ coef - y) ** 2))
    xor = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    sq_xor = (xor[:, 0] - xor[:, 1]) ** 2  # one square unit solves XOR exactly
    rows = []
    acts = ("square", "tanh")
    by_width = {}
    for w in widths:  # both activations of one width in one batched pass
        cfgs = [TrainConfig(hidden=(w,), activation=a, n_steps=n_steps, lr=0.01, dtype="float64", record_every=0) for a in acts]
        by_width[w] = train_many(cfgs, x[:, None], y, n_seeds)
    for i, act in enumerate(acts):
        for w in widths:
            run = by_width[w][i]
            finite = run.final_loss[torch.isfinite(run.final_loss)]
            rows.append({"activation": act, "width": w, "best_mse": float(finite.min()) if finite.numel() else None})
    return {
        "target": "sin(3x) on [-2, 2], 101 points",
        "best_quadratic_mse": best_quadratic,
        "fits": rows,
        "square_solves_xor": bool(torch.equal(sq_xor, torch.tensor([0.0, 1.0, 1.0, 0.0]))),
    }


def flush_to_zero_demo(seed: int = 0) -> dict:
    """A float32 'linear' network whose hidden values pass through the subnormal range.

    f(x) = W₂ · (s⁻¹ · (s · W₁x)), s = 2⁻¹²⁶ (float32's smallest normal): mathematically
    f(x) = W₂W₁x. In float32 with flush-to-zero, s·W₁x is flushed to 0 whenever it is
    subnormal (|W₁x| < 1), a dead zone:
    f is 0 near the origin and W₂W₁x far from it — not affine. The same network in float64 is.
    """
    from ..train import flush_denormals

    g = torch.Generator().manual_seed(seed)
    w1, w2 = torch.randn(4, 3, generator=g), torch.randn(2, 4, generator=g)
    s = 2.0**-126  # itself normal in float32 (1e-38 would be subnormal and flushed too)

    def f32(x):
        x = torch.as_tensor(x, dtype=torch.float32)
        return ((x @ w1.T) * s) * (1 / s) @ w2.T

    def f64(x):
        x = torch.as_tensor(x, dtype=torch.float64)
        return ((x @ w1.double().T) * s) * (1 / s) @ w2.double().T

    with flush_denormals():
        ftz = check_affine(f32, in_shape=(3,), seed=seed, scales=(0.5, 1.0, 2.0))
    plain64 = check_affine(f64, in_shape=(3,), seed=seed, scales=(0.5, 1.0, 2.0))
    before = torch.tensor([1e-39], dtype=torch.float32) * 1.0 == 0  # restore whatever was set
    torch.set_flush_denormal(False)
    try:  # gradual underflow: subnormals keep the values, with fewer significant bits
        gradual = check_affine(f32, in_shape=(3,), seed=seed, scales=(0.5, 1.0, 2.0))
    finally:
        torch.set_flush_denormal(bool(before))
    return {
        "float32_flush_to_zero": {"affine": ftz.is_affine, "residual": ftz.residual, "tolerance": ftz.tolerance},
        "float32_gradual_underflow": {"affine": gradual.is_affine, "residual": gradual.residual, "tolerance": gradual.tolerance},
        "float64": {"affine": plain64.is_affine, "residual": plain64.residual, "tolerance": plain64.tolerance},
    }
