"""Experiment E1: a chain of univariate affine maps is one line, and gradient descent finds it.

A random model applies n ~ U{1..5} maps x → βᵢx + bᵢ with βᵢ, bᵢ ~ U(−3, 3). Its exact
collapse is

    β' = ∏ᵢ βᵢ,    b' = Σᵢ bᵢ ∏_{j>i} βⱼ,

checked against the chain itself. A learner ŷ = βx + b (β, b ~ N(0, 1)) is trained by
gradient descent (lr 0.01) on 32 fresh x ~ N(0, 1) per step with MSE, nine pairs side by
side (the article's 3×3 grid); a frame (β, b of every learner) is kept every 5 steps, and
training stops when every learner's cost is < 1e-2, or at 10,000 steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["UnivariateConfig", "ChainModel", "UnivariateResult", "run_univariate", "chain_collapse"]


@dataclass(frozen=True)
class UnivariateConfig:
    n_models: int = 9  # the article's 3×3 grid
    max_maps: int = 5  # n ~ U{1..max_maps}
    coef_range: float = 3.0  # βᵢ, bᵢ ~ U(−3, 3)
    lr: float = 0.01
    batch: int = 32  # fresh x ~ N(0, 1) per step
    tol: float = 1e-2  # stop when every cost < tol
    max_steps: int = 10_000
    frame_every: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_models", "max_maps", "batch", "max_steps", "frame_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if not (self.lr > 0 and self.tol > 0 and self.coef_range > 0):
            raise ValueError("lr, tol and coef_range must be positive")


@dataclass(frozen=True)
class ChainModel:
    betas: tuple[float, ...]
    biases: tuple[float, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for beta, b in zip(self.betas, self.biases):
            x = beta * x + b
        return x


def chain_collapse(betas, biases) -> tuple[float, float]:
    """(β', b') = (∏βᵢ, Σᵢ bᵢ ∏_{j>i} βⱼ)."""
    betas, biases = np.asarray(betas, dtype=float), np.asarray(biases, dtype=float)
    tail = np.append(np.cumprod(betas[::-1])[::-1][1:], 1.0)  # ∏_{j>i} βⱼ for each i
    return float(np.prod(betas)), float(np.sum(biases * tail))


@dataclass(frozen=True)
class UnivariateResult:
    config: UnivariateConfig
    models: list[dict]  # per model: n, betas, biases, collapsed (β', b'), chain_error, learned (β, b), steps
    steps: int  # steps taken when training stopped
    converged: bool  # every cost < tol
    frame_steps: list[int]
    frames: list[list[list[float]]]  # frames[f][model] = [β, b]
    costs: list[list[float]]  # costs[f][model] at each frame

    def to_dict(self, full: bool = False) -> dict:
        d = {"config": asdict(self.config), "models": self.models, "steps": self.steps, "converged": self.converged}
        if full:
            d.update(frame_steps=self.frame_steps, frames=self.frames, costs=self.costs)
        return d


def run_univariate(config: UnivariateConfig = UnivariateConfig()) -> UnivariateResult:
    rng = np.random.default_rng(config.seed)
    models = []
    for _ in range(config.n_models):
        n = int(rng.integers(1, config.max_maps + 1))
        c = config.coef_range
        models.append(ChainModel(tuple(rng.uniform(-c, c, n)), tuple(rng.uniform(-c, c, n))))
    collapsed = np.array([chain_collapse(m.betas, m.biases) for m in models])  # (M, 2)
    probe = rng.normal(size=256)
    chain_error = [float(np.max(np.abs(m(probe) - (cb * probe + cc)))) for m, (cb, cc) in zip(models, collapsed)]
    params = rng.normal(size=(config.n_models, 2))  # (M, 2): β, b of each learner
    first_below = np.full(config.n_models, -1)
    frames, frame_steps, costs = [], [], []
    step, converged = 0, False
    while True:
        x = rng.normal(size=config.batch)  # (B,) fresh inputs, shared by the nine pairs
        y = np.stack([m(x) for m in models])  # (M, B)
        err = params[:, :1] * x + params[:, 1:] - y  # (M, B)
        cost = np.mean(err**2, axis=1)  # (M,)
        first_below = np.where((first_below < 0) & (cost < config.tol), step, first_below)
        if step % config.frame_every == 0:
            frames.append(params.tolist())
            frame_steps.append(step)
            costs.append(cost.tolist())
        converged = bool(np.all(cost < config.tol))
        if converged or step >= config.max_steps:
            if frame_steps[-1] != step:
                frames.append(params.tolist())
                frame_steps.append(step)
                costs.append(cost.tolist())
            break
        grad = np.stack([np.mean(2 * err * x, axis=1), np.mean(2 * err, axis=1)], axis=1)  # (M, 2)
        params = params - config.lr * grad
        step += 1
    rows = [
        {
            "n": len(m.betas),
            "betas": list(m.betas),
            "biases": list(m.biases),
            "collapsed": {"beta": float(cb), "b": float(cc)},
            "chain_error": err_,
            "learned": {"beta": float(p[0]), "b": float(p[1])},
            "steps_to_tol": int(fb),
        }
        for m, (cb, cc), err_, p, fb in zip(models, collapsed, chain_error, params, first_below)
    ]
    return UnivariateResult(config, rows, step, converged, frame_steps, frames, costs)
