"""Experiment E5: XOR (or any 2-D dataset) across activations, over many seeds at once.

The article's set-up by default: 2-4-1, linear output, MSE, Adam lr 0.01, ≤ 1,000 full-batch
steps, glorot weights and zero biases, stopping when |Δloss| < 1e-10 (affine activation)
or loss < 1e-5 (the others). Per activation, over n seeds trained in one vectorised pass:

  success      XOR: every output within ``margin`` (0.4) of its target — a margin, because
               float rounding alone can put an affine model's 0.5 on either side of 0.5;
               other datasets: training accuracy ≥ ``min_accuracy``
  success_ci   95 % Wilson interval (closed form)
  steps to loss < 1e-3 (median and quartiles over the seeds that reach it), final-loss
  quantiles, diverged seeds (NaN or inf loss; never counted as solved)

For an affine activation it also collapses one trained net (``actlab.collapse``): the best
affine fit to XOR is w = 0, b = ½ with MSE 0.25, and so must the trained net be.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from .. import activations, datasets
from ..stats import wilson
from .._jsonsafe import finite as json_finite
from .. import train as tr
from ..affine import collapse

__all__ = ["XorConfig", "ActivationStats", "XorResult", "run_xor", "wilson"]

DEFAULT_ACTIVATIONS = ("linear", "sigmoid", "relu", "tanh")


@dataclass(frozen=True)
class XorConfig:
    activations: tuple[str, ...] = DEFAULT_ACTIVATIONS  # registry names, or "maxout"
    n_seeds: int = 1000  # training seeds seed .. seed + n_seeds − 1
    seed: int = 0  # first training seed; also seeds the dataset and the minibatch order
    hidden: tuple[int, ...] = (4,)  # the article's 2-4-1
    n_steps: int = 1000  # the article's maximum
    lr: float = 0.01  # the article's Adam learning rate
    optimizer: str = "adam"
    loss: str = "mse"
    batch_size: int | None = None  # None: full batch (the article's)
    dataset: str = "xor"
    n_points: int = 200  # ignored for xor's 4 points
    noise: float = 0.0
    margin: float = 0.4  # xor success: every output within margin of its target
    min_accuracy: float = 0.9  # other datasets: success when training accuracy ≥ this
    article_stopping: bool = True  # the article's rules: affine stops at |Δloss| < 1e-10, others at loss < 1e-5
    n_examples: int = 2  # example seeds kept per activation (solved and failed) for figures
    track_every: int = 5  # the article's GIFs: a frame every 5 steps
    device: str = "cpu"

    def __post_init__(self) -> None:
        acts = self.activations
        if isinstance(acts, str):
            acts = tuple(a for a in acts.split(",") if a.strip())
        acts = tuple(a if a == tr.MAXOUT else activations.resolve(a) for a in (x.strip() for x in acts))
        if not acts:
            raise ValueError("at least one activation is needed")
        object.__setattr__(self, "activations", tuple(dict.fromkeys(acts)))
        if isinstance(self.hidden, int):
            object.__setattr__(self, "hidden", (self.hidden,))
        if not (isinstance(self.n_seeds, numbers.Integral) and not isinstance(self.n_seeds, bool) and self.n_seeds >= 1):
            raise ValueError(f"n_seeds must be an integer ≥ 1, got {self.n_seeds!r}")
        if self.dataset not in datasets.names():
            raise ValueError(f"unknown dataset {self.dataset!r}; expected one of: {', '.join(datasets.names())}")
        if not 0 < self.margin <= 0.5:
            raise ValueError(f"margin must be in (0, 0.5], got {self.margin}")
        if not 0 < self.min_accuracy <= 1:
            raise ValueError(f"min_accuracy must be in (0, 1], got {self.min_accuracy}")
        for name, low in (("seed", 0), ("n_points", 1), ("n_examples", 0), ("track_every", 1)):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low):
                raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.n_points > 10**8:
            raise ValueError(f"n_points must be at most 100,000,000 (a dataset of 2-D points), got {self.n_points:,}")
        if self.seed + self.n_seeds > 2**62:  # seeds are int64 counters
            raise ValueError(f"seed + n_seeds must stay below 2^62, got {self.seed} + {self.n_seeds}")
        if not (isinstance(self.noise, numbers.Real) and math.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise must be a finite number ≥ 0, got {self.noise!r}")
        if not isinstance(self.article_stopping, bool):
            raise ValueError(f"article_stopping must be True or False, got {self.article_stopping!r}")
        self.train_config(self.activations[0])  # validates hidden, steps, lr, optimizer, loss, device

    def train_config(self, activation: str) -> tr.TrainConfig:
        affine = activation != tr.MAXOUT and activations.get(activation).is_affine
        return tr.TrainConfig(
            hidden=tuple(self.hidden),
            activation=activation,
            loss=self.loss,
            optimizer=self.optimizer,
            lr=self.lr,
            n_steps=self.n_steps,
            batch_size=self.batch_size,
            stop_loss=None if (affine or not self.article_stopping) else 1e-5,
            stop_delta=1e-10 if (affine and self.article_stopping) else None,
            device=self.device,
            data_seed=self.seed,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["activations"], d["hidden"] = list(self.activations), list(self.hidden)
        return d


def _quantiles(t: torch.Tensor, qs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, float | None]:
    t = t.double()
    if t.numel() == 0:
        return {f"q{int(q * 100):02d}": None for q in qs}
    vals = torch.quantile(t, torch.tensor(qs, dtype=torch.float64))
    return {f"q{int(q * 100):02d}": float(v) for q, v in zip(qs, vals)}


@dataclass(frozen=True)
class ActivationStats:
    name: str
    n_seeds: int
    n_success: int
    success_rate: float
    success_ci: tuple[float, float]
    final_loss: dict  # quantiles q05..q95 over the seeds that did not diverge
    final_mse_median: float | None  # MSE of the predictions (probabilities under BCE)
    accuracy_median: float
    steps_to_hit: dict  # {"median", "q25", "q75", "n_reached"} for loss < 1e-3
    steps_run_median: float
    diverged: int
    seconds: float
    curve: dict  # {"steps", "q25", "median", "q75"}: loss quantiles over seeds, per step
    examples: dict  # {"solved": [seed, ...], "failed": [...]}
    example_params: dict  # seed -> final parameters (list)
    trajectory: dict  # {"seed", "steps", "params"}: one seed's parameters every track_every steps
    collapsed: dict | None  # affine activations: {"seed", "weight", "bias", "mse", "rank"}

    def to_dict(self, full: bool = False) -> dict:
        d = {
            "n_seeds": self.n_seeds,
            "n_success": self.n_success,
            "success_rate": self.success_rate,
            "success_ci": list(self.success_ci),
            "final_mse_median": self.final_mse_median,
            "final_loss_quantiles": self.final_loss,
            "accuracy_median": self.accuracy_median,
            "steps_to_1e-3_median": self.steps_to_hit["median"],
            "steps_to_1e-3_q25": self.steps_to_hit["q25"],
            "steps_to_1e-3_q75": self.steps_to_hit["q75"],
            "reached_1e-3": self.steps_to_hit["n_reached"],
            "steps_run_median": self.steps_run_median,
            "diverged": self.diverged,
            "seconds": self.seconds,
            "examples": self.examples,
            "collapsed": self.collapsed,
        }
        if full:
            d.update(curve=self.curve, example_params=self.example_params, trajectory=self.trajectory)
        return d


@dataclass(frozen=True)
class XorResult:
    config: XorConfig
    X: list  # the dataset's points (n, 2)
    y: list  # its labels (n,)
    activations: dict[str, ActivationStats] = field(default_factory=dict)

    def to_dict(self, full: bool = False) -> dict:
        """JSON-ready: a diverged seed's NaN (loss, parameters) becomes null."""
        out = {
            "config": self.config.to_dict(),
            "activations": {k: v.to_dict(full) for k, v in self.activations.items()},
        }
        if full:
            out["data"] = {"X": self.X, "y": self.y}
        return json_finite(out)

    def _repr_html_(self) -> str:
        from .._html import xor_html

        return xor_html(self)


def _predictions(cfg: tr.TrainConfig, params: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """(S, n) predictions in target space: the output under MSE, its sigmoid under BCE."""
    out = tr.forward(cfg, params, X)
    return out if cfg.loss == "mse" else torch.sigmoid(out)


def _curve(run: tr.TrainRun, max_points: int = 250) -> dict:
    if run.loss_history is None:
        return {"steps": [], "q25": [], "median": [], "q75": []}
    stride = max(1, math.ceil(run.loss_history.shape[0] / max_points))
    hist = run.loss_history[::stride].double()  # (T', S)
    finite = torch.where(torch.isfinite(hist), hist, torch.nan)
    q = torch.nanquantile(finite, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64), dim=1)  # (3, T')
    return {
        "steps": run.history_steps[::stride].tolist(),
        "q25": q[0].tolist(),
        "median": q[1].tolist(),
        "q75": q[2].tolist(),
    }


def _stats(config: XorConfig, activation: str, data: datasets.Dataset, run: tr.TrainRun) -> ActivationStats:
    cfg = config.train_config(activation)
    seeds = run.seeds
    X = torch.as_tensor(data.X, dtype=cfg.torch_dtype)
    y = torch.as_tensor(data.y, dtype=cfg.torch_dtype)
    pred = _predictions(cfg, run.params, X).double()  # (S, n)
    finite = torch.isfinite(run.final_loss) & torch.isfinite(pred).all(dim=1)
    accuracy = ((pred > 0.5) == (y > 0.5)).double().mean(dim=1)  # (S,)
    if config.dataset == "xor":
        success = ((pred - y).abs() < config.margin).all(dim=1) & finite
    else:
        success = (accuracy >= config.min_accuracy) & finite
    k, n = int(success.sum()), config.n_seeds
    hit = run.first_hit[run.first_hit >= 0].double()
    hq = _quantiles(hit, (0.25, 0.5, 0.75))
    mse = ((pred - y) ** 2).mean(dim=1)[finite]
    solved = seeds[success][: config.n_examples].tolist()
    failed = seeds[~success][: config.n_examples].tolist()
    keep = {int(s): run.params[int(s) - config.seed].tolist() for s in solved + failed}
    collapsed = None
    if activation != tr.MAXOUT and activations.get(activation).is_affine:
        losses = torch.where(finite, run.final_loss, math.inf)  # a typical seed among those that did not diverge
        if bool(finite.any()):
            i = int(torch.argmin((losses - run.final_loss[finite].median()).abs()))
            amap = collapse(tr.to_module(cfg, run.params[i], X.shape[1]), in_shape=(X.shape[1],))
            collapsed = {
                "seed": int(seeds[i]),
                "weight": amap.weight[0].tolist(),
                "bias": float(amap.bias[0]),
                "mse": float(((pred[i] - y) ** 2).mean()),
                "rank": amap.rank(),
            }
    return ActivationStats(
        name=activation,
        n_seeds=n,
        n_success=k,
        success_rate=k / n,
        success_ci=wilson(k, n),
        final_loss=_quantiles(run.final_loss[finite]),
        final_mse_median=float(mse.median()) if mse.numel() else None,
        accuracy_median=float(accuracy.median()),
        steps_to_hit={"median": hq["q50"], "q25": hq["q25"], "q75": hq["q75"], "n_reached": int(hit.numel())},
        steps_run_median=float(run.steps_run.double().median()),
        diverged=int((~finite).sum()),
        seconds=run.seconds,
        curve=_curve(run),
        examples={"solved": solved, "failed": failed},
        example_params=keep,
        trajectory={
            "seed": int(seeds[0]),
            "steps": run.tracked_steps.tolist() if run.tracked_steps is not None else [],
            "params": run.tracked[0].tolist(),
            "steps_run": int(run.steps_run[0]),
        },
        collapsed=collapsed,
    )


def run_xor(
    config: XorConfig = XorConfig(),
    *,
    on_progress: Callable[[str, int], None] | None = None,
) -> XorResult:
    """Train every activation of ``config`` over its seeds; ``on_progress(activation, steps_done)``."""
    data = datasets.make(config.dataset, n=config.n_points, noise=config.noise, seed=config.seed)
    # every activation but maxout in one batched pass (train_many: the same bits as separate runs)
    groups = [[a for a in config.activations if a != tr.MAXOUT], [a for a in config.activations if a == tr.MAXOUT]]
    for group in filter(None, groups):  # refuse a run too large for this machine before allocating anything
        cfg = config.train_config(group[0])
        tr.check_memory(cfg, data.X.shape[1], config.n_seeds * len(group), data.X.shape[0])
    seeds = torch.arange(config.seed, config.seed + config.n_seeds)
    runs: dict[str, tr.TrainRun] = {}
    for group in groups:
        if not group:
            continue
        cb = None if on_progress is None else (lambda done, group=group: [on_progress(a, done) for a in group])
        got = tr.train_many([config.train_config(a) for a in group], data.X, data.y, seeds, track=[0],
                            track_every=config.track_every, progress=cb)
        runs.update(zip(group, got))
    stats = {act: _stats(config, act, data, runs[act]) for act in config.activations}
    return XorResult(config=config, X=data.X.tolist(), y=data.y.tolist(), activations=stats)


def params_forward(config: XorConfig, activation: str, params, X: np.ndarray) -> np.ndarray:
    """Predictions (in target space) of stored parameters on points X (n, 2): for figures."""
    cfg = config.train_config(activation)
    p = torch.as_tensor(np.asarray(params, dtype=np.float64), dtype=cfg.torch_dtype)
    p = p.reshape(-1, p.shape[-1])  # (S, P): one parameter row or several
    with torch.no_grad():
        return _predictions(cfg, p, torch.as_tensor(X, dtype=cfg.torch_dtype)).double().numpy()
