"""Infinite width, measured: the kernel each activation makes, checked against real networks.

- ``convergence``: the empirical NNGP of real torch nets (``depth`` hidden layers of width n,
  weights N(0, σ_w²/fan_in), biases N(0, σ_b²)) against ``actlab.nngp``, over seeds. Given the
  last hidden layer's features h(x), the readout's covariance is σ_w² h(x)·h(x′)/n + σ_b²; its
  relative Frobenius error against the infinite-width kernel falls as ≈ 1/√n.
- ``regression``: NNGP kernel regression (the Gaussian process posterior mean) against wide
  one-hidden-layer nets trained by ``train_many`` over seeds, on tasks a linear model cannot
  solve (circle, spiral); test accuracy of both. The linear activation's kernel is linear in
  (x, 1): its regression is least squares on the inputs (``accuracy_least_squares``, the same).
- ``approximation`` (Leshno et al. 1993: a one-hidden-layer net is a universal approximator iff
  its activation is not a polynomial): one hidden layer of width n with random weights and the
  best readout (least squares) fitting |x| on [−1, 1]. With ``square`` every unit (wx + b)² is a
  quadratic, so no width beats the best quadratic (``polynomial_floor``); relu and tanh fall
  below it by orders of magnitude.
- ``ranks``: the rank of each kernel's Gram matrix on n points of dimension d: d + 1 for the
  linear activation at any depth (a linear model in (x, 1)), (d + 1)(d + 2)/2 for square at
  depth 1 (a quadratic model), n for the others.
- ``architectures`` (``architectures.py``): the article's dense, convolutional and recurrent nets at
  infinite width (``actlab.predict``) beside OLS and trained finite nets, on tasks a linear model
  cannot solve.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from .. import activations, datasets
from .. import train as tr
from ..stats import quartiles
from ..theory import nngp
from .architectures import architectures

__all__ = ["KernelsConfig", "KernelsResult", "KERNELS_PRESETS", "run_kernels", "convergence", "regression", "approximation",
           "ranks", "empirical_nngp"]


@dataclass(frozen=True)
class KernelsConfig:
    activations: tuple[str, ...] = ("linear", "relu", "tanh", "square")  # each one's kernel against real nets
    widths: tuple[int, ...] = (64, 256, 1024, 2048)  # hidden widths for the convergence to the NNGP
    depth: int = 2  # hidden layers of the convergence nets and of the kernel
    sigma_w2: float = 1.5  # weight variance × fan_in
    sigma_b2: float = 0.05  # bias variance
    conv_points: int = 24  # inputs (from the spiral set) on which kernels are compared
    conv_seeds: int = 8  # random nets per width
    datasets: tuple[str, ...] = ("circle", "spiral")  # regression tasks a linear model cannot solve
    train_points: int = 200  # training set size (the test set is as large, another draw)
    noise: float = 0.05  # coordinate noise of both sets
    ridge: float = 1e-3  # kernel regression's noise variance, relative to the kernel's mean diagonal
    reg_width: int = 512  # hidden width of the trained nets
    reg_seeds: int = 8  # trained nets per activation and task
    reg_steps: int = 1500  # Adam steps (lr 0.01, full batch, MSE on the 0/1 labels)
    approx_widths: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)  # one hidden layer, best readout
    approx_seeds: int = 5  # random hidden layers per width (the median error is kept)
    approx_points: int = 401  # grid of [−1, 1] on which |x| is fitted
    arch_activations: tuple[str, ...] = ("linear", "relu", "tanh")  # the article's three architectures, each with these
    arch_points: int = 200  # training set size of each architecture's task (the test set is as large, another draw)
    arch_width: int = 64  # width (units, channels, hidden state) of the trained finite nets
    arch_seeds: int = 4  # trained finite nets per architecture and activation
    arch_steps: int = 300  # their Adam steps (lr 0.01, full batch)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in (*self.activations, *self.arch_activations):
            if name == tr.MAXOUT:
                raise ValueError("maxout has no NNGP here (not elementwise); choose elementwise activations")
            activations.resolve(name)
        for name in self.datasets:
            if name not in datasets.names():
                raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(datasets.names())}")
        for field in ("widths", "approx_widths"):
            v = getattr(self, field)
            if not v or any(not isinstance(w, int) or w < 1 for w in v):
                raise ValueError(f"{field} must be one or more integers ≥ 1, got {v!r}")
        for field in ("depth", "conv_points", "conv_seeds", "train_points", "reg_width", "reg_seeds", "reg_steps",
                      "approx_seeds", "approx_points", "arch_points", "arch_width", "arch_seeds", "arch_steps"):
            v = getattr(self, field)
            if not isinstance(v, int) or v < (0 if field == "depth" else 1):
                raise ValueError(f"{field} must be an integer ≥ {0 if field == 'depth' else 1}, got {v!r}")
        if not (self.sigma_w2 > 0 and self.sigma_b2 >= 0 and self.ridge > 0 and self.noise >= 0):
            raise ValueError("sigma_w2 and ridge must be > 0, sigma_b2 and noise ≥ 0")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


KERNELS_PRESETS = {
    "full": KernelsConfig(),
    # the report's section 8: the same parts, fewer seeds and smaller trained nets
    "report": KernelsConfig(conv_seeds=3, conv_points=16, reg_width=256, reg_seeds=4, reg_steps=400, approx_seeds=2,
                            arch_points=150, arch_seeds=3, arch_steps=150),
    # `actlab kernels --quick` and `actlab demo --quick`: one task, the smallest sizes that still show each effect
    "quick": KernelsConfig(widths=(64, 256, 1024, 2048), conv_seeds=2, conv_points=12, datasets=("spiral",),
                           reg_width=128, reg_seeds=4, reg_steps=500, approx_widths=(1, 2, 4, 8, 16, 32, 64),
                           approx_seeds=3, arch_points=120, arch_width=32, arch_seeds=3, arch_steps=200),
    # `actlab demo --quick`'s section 8: the quick sizes, fewer still
    "glance": KernelsConfig(widths=(64, 256, 1024), conv_seeds=2, conv_points=12, datasets=("spiral",),
                            reg_width=96, reg_seeds=2, reg_steps=200, approx_widths=(1, 2, 4, 8, 16, 32),
                            approx_seeds=2, arch_activations=("linear", "relu"), arch_points=100, arch_width=32, arch_seeds=2,
                            arch_steps=150),
}


# ---------------------------------------------------------------------------- convergence


def _random_features(activation: str, x: torch.Tensor, width: int, depth: int, sigma_w2: float, sigma_b2: float,
                     seed: int) -> torch.Tensor:
    """The last hidden layer (n, width) of a real torch net (nn.Linear layers, float64)."""
    from torch import nn

    from ..nets import Act

    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    fan_in = x.shape[1]
    for _ in range(depth):
        lin = nn.utils.skip_init(nn.Linear, fan_in, width, dtype=torch.float64)  # torch's own init would be discarded
        with torch.no_grad():
            lin.weight.normal_(0.0, math.sqrt(sigma_w2 / fan_in), generator=g)
            lin.bias.normal_(0.0, math.sqrt(sigma_b2), generator=g)
        layers += [lin, Act(activation)]
        fan_in = width
    with torch.no_grad():
        return nn.Sequential(*layers)(x)


def empirical_nngp(activation: str, x: torch.Tensor, width: int, depth: int, sigma_w2: float, sigma_b2: float,
                   seed: int) -> torch.Tensor:
    """σ_w² h(x)·h(x′)/width + σ_b²: the readout's covariance given one random net's last hidden
    layer (the input kernel σ_w² x·x′/d + σ_b² when depth is 0)."""
    h = _random_features(activation, x, width, depth, sigma_w2, sigma_b2, seed) if depth else x
    return sigma_w2 * h @ h.T / h.shape[1] + sigma_b2


def _points(config: KernelsConfig) -> torch.Tensor:
    return torch.from_numpy(datasets.make("spiral", config.conv_points, 0.0, config.seed).X)


def convergence(config: KernelsConfig) -> list[dict]:
    """[{activation, width, rel_error (mean over seeds), rel_error_sd, seeds}]."""
    x = _points(config)
    rows = []
    for name in config.activations:
        want = nngp(name, x, depth=config.depth, sigma_w2=config.sigma_w2, sigma_b2=config.sigma_b2)
        for width in config.widths:
            errs = [float(torch.linalg.norm(empirical_nngp(name, x, width, config.depth, config.sigma_w2, config.sigma_b2,
                                                           config.seed * 7919 + s) - want) / torch.linalg.norm(want))
                    for s in range(config.conv_seeds)]
            rows.append({"activation": name, "width": width, "rel_error": float(np.mean(errs)),
                         "rel_error_sd": float(np.std(errs)), "seeds": config.conv_seeds})
    return rows


# ---------------------------------------------------------------------------- regression


def _task(config: KernelsConfig, name: str):
    train = datasets.make(name, config.train_points, config.noise, config.seed)
    test = datasets.make(name, config.train_points, config.noise, config.seed + 1)
    return (torch.from_numpy(train.X), torch.from_numpy(train.y), torch.from_numpy(test.X), torch.from_numpy(test.y))


def kernel_regression(activation: str, config: KernelsConfig, X, y, Xt) -> torch.Tensor:
    """The NNGP posterior mean at Xt (depth 1): K(Xt, X)(K(X, X) + σ_n² I)⁻¹ y."""
    kw = dict(depth=1, sigma_w2=config.sigma_w2, sigma_b2=config.sigma_b2)
    k = nngp(activation, X, **kw)
    noise = config.ridge * float(k.diagonal().mean())
    alpha = torch.linalg.solve(k + noise * torch.eye(len(X), dtype=k.dtype), y)
    return nngp(activation, Xt, X, **kw) @ alpha


def _least_squares_accuracy(X, y, Xt, yt) -> float:
    feats = lambda a: torch.cat([a, torch.ones(len(a), 1, dtype=a.dtype)], 1)  # noqa: E731
    w = torch.linalg.lstsq(feats(X), y[:, None]).solution
    return float(((feats(Xt) @ w)[:, 0] > 0.5).eq(yt > 0.5).double().mean())


def regression(config: KernelsConfig, progress: Callable[[str], None] | None = None) -> list[dict]:
    """[{activation, dataset, accuracy_kernel, accuracy_trained (median over seeds), trained_q25,
    trained_q75, seeds, width, steps}], plus accuracy_least_squares on the linear rows."""
    rows = []
    for name in config.datasets:
        X, y, Xt, yt = _task(config, name)
        for a in config.activations:  # one call each: at these widths, blocks of mixed activations cost more
            cfg = tr.TrainConfig(hidden=(config.reg_width,), activation=a, optimizer="adam", lr=0.01,
                                 n_steps=config.reg_steps, record_every=0)
            (run,) = tr.train_many([cfg], X.float(), y.float(), list(range(config.reg_seeds)))
            out = tr.forward(run.config, run.params, Xt.float())  # (S, n)
            acc = (out > 0.5).eq(yt.float() > 0.5).double().mean(1)
            kern = float((kernel_regression(a, config, X, y, Xt) > 0.5).eq(yt > 0.5).double().mean())
            q = quartiles(acc.tolist())
            row = {"activation": a, "dataset": name, "accuracy_kernel": kern, "accuracy_trained": q["median"],
                   "trained_q25": q["q25"], "trained_q75": q["q75"], "seeds": config.reg_seeds, "width": config.reg_width,
                   "steps": config.reg_steps}
            if a == "linear":
                row["accuracy_least_squares"] = _least_squares_accuracy(X, y, Xt, yt)
            rows.append(row)
        if progress:
            progress(name)
    return rows


# ---------------------------------------------------------------------------- approximation


def _best_readout_error(feats: torch.Tensor, target: torch.Tensor) -> float:
    """RMS error of the least-squares readout (with a bias) on these features."""
    a = torch.cat([feats, torch.ones(len(feats), 1, dtype=feats.dtype)], 1)
    w = torch.linalg.lstsq(a, target[:, None], driver="gelsd").solution
    return float(torch.sqrt(((a @ w)[:, 0] - target).pow(2).mean()))


def approximation(config: KernelsConfig) -> dict:
    """{target, rows: [{activation, width, error}], polynomial_floor, linear_floor}: random
    hidden weights w ~ N(0, 4), b ~ N(0, 1) (kinks and bends spread over [−1, 1])."""
    x = torch.linspace(-1.0, 1.0, config.approx_points, dtype=torch.float64)
    target = x.abs()
    powers = lambda k: torch.stack([x**j for j in range(1, k + 1)], 1)  # noqa: E731
    rows = []
    for name in config.activations:
        fn = activations.get(name).fn
        for width in config.approx_widths:
            errs = []
            for s in range(config.approx_seeds):
                g = torch.Generator().manual_seed(config.seed * 1_000_003 + 7919 * width + s)
                w = torch.randn(width, generator=g, dtype=torch.float64) * 2.0
                b = torch.randn(width, generator=g, dtype=torch.float64)
                errs.append(_best_readout_error(fn(x[:, None] * w + b), target))
            rows.append({"activation": name, "width": width, "error": float(np.median(errs))})
    return {"target": "|x| on [−1, 1]", "rows": rows, "polynomial_floor": _best_readout_error(powers(2), target),
            "linear_floor": _best_readout_error(powers(1), target)}


# ---------------------------------------------------------------------------- ranks


def ranks(config: KernelsConfig, n: int = 48) -> list[dict]:
    """[{activation, depth, n, d, rank}] of the NNGP Gram matrix on n spiral points (d = 2),
    at depth 1 and at ``config.depth``; numerical rank at 1e-9 of the largest singular value."""
    x = torch.from_numpy(datasets.make("spiral", n, 0.0, config.seed).X)
    out = []
    for name in config.activations:
        for depth in sorted({1, config.depth}):
            k = nngp(name, x, depth=depth, sigma_w2=config.sigma_w2, sigma_b2=config.sigma_b2)
            sv = torch.linalg.svdvals(k)
            out.append({"activation": name, "depth": depth, "n": n, "d": x.shape[1], "rank": int((sv > 1e-9 * sv[0]).sum())})
    return out


# ---------------------------------------------------------------------------- all


@dataclass
class KernelsResult:
    config: dict
    convergence: list[dict]
    regression: list[dict]
    approximation: list[dict]  # [{activation, width, error}]
    polynomial_floor: float  # the best quadratic's RMS error on the target
    linear_floor: float  # the best line's
    approximation_target: str
    ranks: list[dict]
    architectures: list[dict]  # the article's dense, conv and rnn at infinite width (experiments.architectures)
    example: dict  # {"x": [[...]], "kernels": {activation: [[...]]}}: NNGPs on a few points, for heatmaps
    seconds: dict

    def to_dict(self) -> dict:
        return asdict(self)

    def _repr_html_(self) -> str:
        from .._html import kernels_html

        return kernels_html(self)


def _example(config: KernelsConfig, n: int = 24) -> dict:
    """Each activation's NNGP on n spiral points ordered along the spiral (nearby rows, nearby points)."""
    x = torch.from_numpy(datasets.make("spiral", 2 * n, 0.0, config.seed).X[::2])
    return {"x": x.tolist(), "depth": config.depth,
            "kernels": {a: nngp(a, x, depth=config.depth, sigma_w2=config.sigma_w2, sigma_b2=config.sigma_b2).tolist()
                        for a in config.activations}}


def run_kernels(config: KernelsConfig = KERNELS_PRESETS["full"], progress: Callable[[str], None] | None = None) -> KernelsResult:
    """Every part above, timed; ``progress(part)`` after each."""
    seconds = {}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        seconds[name] = time.perf_counter() - t0
        if progress:
            progress(name)
        return out

    conv = timed("convergence", convergence, config)
    reg = timed("regression", regression, config)
    approx = timed("approximation", approximation, config)
    rk = timed("ranks", ranks, config)
    arch = timed("architectures", architectures, config)
    ex = timed("example", _example, config)
    return KernelsResult(config.to_dict(), conv, reg, approx["rows"], approx["polynomial_floor"], approx["linear_floor"],
                         approx["target"], rk, arch, ex, seconds)
