"""How trainable the tiny XOR networks are, as the classic papers measured it — over thousands
of seeds per setting.

- Kolen & Pollack (1990), "Back propagation is sensitive to initial conditions": a 2-2-1
  sigmoid net's weights and biases drawn from U(−r, r); the magnitude r of the initial weights
  governs whether, and how fast, backpropagation solves XOR. Here for 2-2-1 and 2-3-1,
  sigmoid and tanh, over several r, by plain full-batch gradient descent (backpropagation).
- Sprinkhuizen-Kuyper & Boers (1996), "The error surface of the simplest XOR network has only
  global minima": the 2-1-1 net with direct input→output connections. Beside 2-2-1 and 2-3-1.
- The article's 2-4-1 ReLU set-up (Adam 0.01, ≤ 1,000 steps, glorot weights, zero biases):
  what its failures are. A failed seed ends at MSE 1/4 (all four points averaged to ½, or two
  pairs with different targets), 1/6 (three points averaged to ⅓ or ⅔) or 1/8 (one pair with
  different targets averaged to ½), with hidden units that are dead (pre-activation ≤ 0 on all
  four points) at initialisation or that die in training.

Solved: MSE < 0.04, which puts every output within 0.4 of its target; a seed stops training
once solved, and "steps" is the first step at which it was. The output is linear (as in the
article), not a sigmoid as in the papers: that changes the numbers, so the papers' figures
are quoted as what they reported, beside what is measured here. Every setting of one
architecture trains in one batched pass (``train_many``): seed s starts from the same uniform
draws at every r and for both activations, so the rows are paired.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from .. import datasets
from .. import train as tr
from ..stats import quartiles, wilson
from .xor import XorConfig

__all__ = ["ARCHS", "TrainabilityConfig", "run_init_grid", "skip_comparison", "relu_failures", "FAILURE_CLASSES"]

# name -> (hidden widths, input→output skip connections)
ARCHS = {"2-2-1": ((2,), False), "2-3-1": ((3,), False), "2-1-1+skip": ((1,), True)}
# the MSE levels a failed 2-4-1 net ends at: all four points averaged, three, or two pairs
FAILURE_CLASSES = {"solved": 0.0, "1/8": 1 / 8, "1/6": 1 / 6, "1/4": 1 / 4}


@dataclass(frozen=True)
class TrainabilityConfig:
    archs: tuple[str, ...] = tuple(ARCHS)  # networks of the grid
    activations: tuple[str, ...] = ("sigmoid", "tanh")
    ranges: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 4.0, 8.0)  # weights and biases U(−r, r)
    n_seeds: int = 2800  # per setting: 3 archs × 2 activations × 6 ranges × 2,800 = 100,800 nets
    optimizer: str = "sgd"  # plain backpropagation, as in the papers
    lr: float = 0.2
    n_steps: int = 4000
    solved_mse: float = 0.04  # MSE below which every output is within 0.4 of its target
    relu_seeds: int = 10_000  # the article's 2-4-1 ReLU set-up, for the failure taxonomy
    seed: int = 0  # first seed of every setting

    def __post_init__(self) -> None:
        if not self.archs or any(a not in ARCHS for a in self.archs):
            raise ValueError(f"archs must be some of {', '.join(ARCHS)}, got {self.archs!r}")
        if not self.ranges or any(not (isinstance(r, numbers.Real) and math.isfinite(r) and r > 0) for r in self.ranges):
            raise ValueError(f"ranges must be positive numbers, got {self.ranges!r}")
        for name, low in (("n_seeds", 1), ("relu_seeds", 1), ("n_steps", 1), ("seed", 0)):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low):
                raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
        if not 0 < self.solved_mse <= 0.25:
            raise ValueError(f"solved_mse must be in (0, 0.25], got {self.solved_mse}")
        for a in self.activations:
            self.train_config(self.archs[0], a, self.ranges[0])  # validates the names, lr and optimizer

    def train_config(self, arch: str, activation: str, r: float) -> tr.TrainConfig:
        hidden, skip = ARCHS[arch]
        return tr.TrainConfig(
            hidden=hidden, skip=skip, activation=activation, init="uniform", init_scale=float(r),
            optimizer=self.optimizer, lr=self.lr, n_steps=self.n_steps, stop_loss=self.solved_mse,
            hit_loss=self.solved_mse, record_every=max(1, self.n_steps // 40),
        )

    @property
    def n_nets(self) -> int:
        return len(self.archs) * len(self.activations) * len(self.ranges) * self.n_seeds

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("archs", "activations", "ranges"):
            d[k] = list(d[k])
        return d


def _grid_row(arch: str, cfg: tr.TrainConfig, run: tr.TrainRun, solved_mse: float) -> dict:
    finite = torch.isfinite(run.final_loss)
    solved = finite & (run.final_loss < solved_mse)
    k, n = int(solved.sum()), run.n_seeds
    q = quartiles(run.first_hit[solved])
    # a failure still descending at the end is slow, not stuck: its loss fell by > 1 % over the last tenth
    hist = run.loss_history.double()  # (T', S)
    late = hist[-max(2, hist.shape[0] // 10)]
    failed = finite & ~solved
    descending = failed & (run.final_loss.double() < 0.99 * late)
    return {
        "arch": arch, "activation": cfg.activation, "range": cfg.init_scale, "n_seeds": n,
        "success_rate": k / n, "success_ci": list(wilson(k, n)),
        "steps_q25": q["q25"], "steps_median": q["median"], "steps_q75": q["q75"],
        "final_mse_median": float(run.final_loss[finite].double().median()) if bool(finite.any()) else None,
        "failed_still_descending": int(descending.sum()), "failed": int(failed.sum()), "diverged": int((~finite).sum()),
    }


def run_init_grid(config: TrainabilityConfig = TrainabilityConfig(),
                  progress: Callable[[str, int], None] | None = None) -> list[dict]:
    """Success and steps to solve per (arch, activation, r): one batched pass per architecture."""
    data = datasets.make("xor")
    seeds = torch.arange(config.seed, config.seed + config.n_seeds)
    rows = []
    for arch in config.archs:
        cfgs = [config.train_config(arch, a, r) for a in config.activations for r in config.ranges]
        cb = None if progress is None else (lambda steps, arch=arch: progress(arch, steps))
        runs = tr.train_many(cfgs, data.X, data.y, seeds, progress=cb)
        rows += [_grid_row(arch, c, run, config.solved_mse) for c, run in zip(cfgs, runs)]
    return rows


def skip_comparison(rows: list[dict]) -> list[dict]:
    """The grid regrouped: per activation and r, the success rate of each architecture side by side."""
    out: dict[tuple[str, float], dict] = {}
    for r in rows:
        entry = out.setdefault((r["activation"], r["range"]), {"activation": r["activation"], "range": r["range"]})
        entry[r["arch"]] = {"success_rate": r["success_rate"], "success_ci": r["success_ci"],
                            "steps_median": r["steps_median"], "failed_still_descending": r["failed_still_descending"],
                            "failed": r["failed"]}
    return list(out.values())


# ------------------------------------------------------------------------------- ReLU failures


def _dead_units(cfg: tr.TrainConfig, params: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """(S,) hidden units of the first layer whose pre-activation is ≤ 0 on every point: a dead
    ReLU gets no gradient again. The flat parameters start with W₁ (width, 2) row-major, then b₁."""
    width = cfg.hidden[0]
    W1 = params[:, : 2 * width].reshape(-1, width, 2)  # (S, width, 2)
    b1 = params[:, 2 * width : 3 * width]  # (S, width)
    z = torch.einsum("swi,bi->sbw", W1, X) + b1[:, None, :]  # (S, B, width)
    return (z <= 0).all(dim=1).sum(dim=1)


def _averaged_sets(pred: torch.Tensor, y: torch.Tensor, tol: float = 1e-3) -> list[str]:
    """Per seed, the groups of points with different targets whose predictions coincide (within
    tol) — the points the net has averaged — as '00,01,11'-style sets joined by ' | '; '' when
    there are none."""
    names = ("00", "01", "10", "11")
    out = []
    for row in pred.tolist():
        groups, seen = [], set()
        for i in range(4):
            if i in seen:
                continue
            g = [j for j in range(i, 4) if j not in seen and abs(row[j] - row[i]) < tol]
            seen.update(g)
            if len({float(y[j]) for j in g}) > 1:
                groups.append(",".join(names[j] for j in g))
        out.append(" | ".join(groups))
    return out


def _failure_class(mse: float) -> str:
    for name, level in FAILURE_CLASSES.items():
        if abs(mse - level) < 1e-3:
            return name
    return "other"


def relu_failures(n_seeds: int = 10_000, seed: int = 0) -> dict:
    """The article's 2-4-1 ReLU set-up over ``n_seeds`` seeds: final MSE classes, dead hidden
    units at initialisation and at the end, and which points each class averages."""
    xc = XorConfig(activations=("relu",), n_seeds=n_seeds, seed=seed)
    cfg = xc.train_config("relu")
    data = datasets.make("xor")
    X, y = torch.as_tensor(data.X, dtype=cfg.torch_dtype), torch.as_tensor(data.y, dtype=cfg.torch_dtype)
    seeds = torch.arange(seed, seed + n_seeds)
    run = tr.train(cfg, data.X, data.y, seeds)
    pred = tr.forward(cfg, run.params, X).double()  # (S, 4)
    success = ((pred - y.double()).abs() < xc.margin).all(dim=1)
    mse = ((pred - y.double()) ** 2).mean(dim=1)
    dead_init, dead_final = _dead_units(cfg, tr.init_params(cfg, seeds, 2), X), _dead_units(cfg, run.params, X)
    classes = ["solved" if ok else _failure_class(m) for ok, m in zip(success.tolist(), mse.tolist())]
    sets = _averaged_sets(pred, y)
    rows = []
    for name in (*FAILURE_CLASSES, "other"):
        idx = [i for i, c in enumerate(classes) if c == name]
        if not idx:
            continue
        di, df = dead_init[idx].double(), dead_final[idx].double()
        counts: dict[str, int] = {}
        for i in idx:
            counts[sets[i]] = counts.get(sets[i], 0) + 1
        rows.append({
            "class": name, "mse": FAILURE_CLASSES.get(name), "count": len(idx), "share": len(idx) / n_seeds,
            "dead_init_mean": float(di.mean()), "dead_final_mean": float(df.mean()),
            "dead_init_hist": [int((di == k).sum()) for k in range(cfg.hidden[0] + 1)],
            "dead_final_hist": [int((df == k).sum()) for k in range(cfg.hidden[0] + 1)],
            "averaged": dict(sorted(counts.items(), key=lambda kv: -kv[1])[:4]),
            "examples": [int(seeds[i]) for i in idx[:3]],
        })
    k = int(success.sum())
    return {"n_seeds": n_seeds, "solved": k, "success_rate": k / n_seeds, "success_ci": list(wilson(k, n_seeds)),
            "classes": rows, "set_up": "2-4-1 ReLU, linear output, MSE, Adam lr 0.01, ≤ 1,000 steps, glorot, zero biases"}
