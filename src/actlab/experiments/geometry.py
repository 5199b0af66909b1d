"""What the activation does to the plane: linear regions and the hidden space, measured.

- ``xor_regions``: the article's 2-4-1 XOR nets (per activation, over many seeds) — how many
  linear regions a solved and a failed seed cut the box around XOR's points into, and how
  many of them the decision boundary (output ½) crosses.
- ``depth_vs_width``: Telgarsky's (2016) sawtooth — L layers of 2 ReLUs make 2^L pieces of
  [0, 1] — beside one hidden layer with the same 2L units, which makes at most 2L + 1
  (Montúfar et al. 2014).
- ``hanin_rolnick``: Hanin & Rolnick (2019) — at initialisation the number of regions in a
  2-D box grows with the total number of neurons N (roughly as N² for 2-D inputs) and hardly
  with depth: fixed budgets N split over 1–4 hidden layers, many seeds each; and the count
  during training on a dataset.
- ``hidden_space``: a trained classifier's data and input grid in its last hidden layer,
  where the output is affine and the decision boundary a line (Olah 2014): the plane itself
  for width 2, its principal plane (PCA) for wider layers.

Every count is ``actlab.regions`` (exact, from the weights); networks use actlab.train.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

from .. import datasets
from .. import train as tr
from ..analysis.regions import regions
from ..stats import quartiles
from .xor import XorConfig

__all__ = ["hidden_space_of", "GEOMETRY_PRESETS", "GeometryConfig", "xor_regions", "depth_vs_width", "hanin_rolnick", "hidden_space",
           "sawtooth", "xor_hidden", "run_geometry", "measure_net"]

XOR_BOX = (-0.5, 1.5, -0.5, 1.5)  # the box around XOR's four points


@dataclass(frozen=True)
class GeometryConfig:
    xor_activations: tuple[str, ...] = ("relu", "maxout", "leaky_relu", "hardtanh")  # 2-4-1, the article's set-up
    xor_seeds: int = 200  # seeds per activation whose regions are counted
    sawtooth_depths: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    budgets: tuple[int, ...] = (8, 16, 32)  # total hidden ReLUs, split over 1..4 layers
    depths: tuple[int, ...] = (1, 2, 4)
    hr_seeds: int = 100  # initialisations per (budget, depth)
    hr_box: float = 1.0  # the box (−b, b)²
    train_dataset: str = "circle"  # regions during training
    train_layers: tuple[int, ...] = (8, 8)
    train_steps: int = 1000
    train_seeds: int = 10
    hidden_seeds: int = 50  # 2-2-1 seeds tried for a solved one to show
    hidden_steps: int = 3000
    seed: int = 0

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# the command's full run, the report's, and demo --quick's glance
GEOMETRY_PRESETS = {
    "full": GeometryConfig(),
    "report": GeometryConfig(xor_seeds=60, hr_seeds=40, train_seeds=4, hidden_seeds=30, hidden_steps=2000),
    "glance": GeometryConfig(xor_activations=("relu", "maxout"), xor_seeds=6, budgets=(8, 16), depths=(1, 2), hr_seeds=5,
                             train_steps=200, train_seeds=2, hidden_seeds=10, hidden_steps=800, sawtooth_depths=(1, 2, 3, 4, 5, 6)),
}


def _drawn(r, seed: int) -> dict:
    """A region map as the figures draw it: its polygons and its decision boundary (output ½)."""
    return {"seed": seed, "polygons": [p.tolist() for p in r.polygons], "boundary": [b.tolist() for b in r.boundary(0.5)],
            "count": r.count}


def xor_regions(activations=("relu", "maxout", "leaky_relu", "hardtanh"), n_seeds: int = 200, seed: int = 0) -> list[dict]:
    """Per activation: regions and boundary crossings of solved and failed 2-4-1 XOR nets."""
    data = datasets.make("xor")
    y = torch.as_tensor(data.y)
    rows = []
    for act in activations:
        xc = XorConfig(activations=(act,), n_seeds=n_seeds, seed=seed)
        cfg = xc.train_config(act)
        run = tr.train(cfg, data.X, data.y, torch.arange(seed, seed + n_seeds))
        pred = tr.forward(cfg, run.params, torch.as_tensor(data.X, dtype=cfg.torch_dtype)).double()
        solved = ((pred - y).abs() < xc.margin).all(dim=1)
        maps = [regions(tr.to_module(cfg, p, 2), XOR_BOX) for p in run.params.double()]
        row = {"activation": act, "n_seeds": n_seeds, "solved": int(solved.sum()), "examples": {}}
        for name, mask in (("solved", solved), ("failed", ~solved)):
            sel = [m for m, ok in zip(maps, mask.tolist()) if ok]
            row[f"regions_{name}"] = quartiles([m.count for m in sel])
            row[f"crossed_{name}"] = quartiles([m.crossed(0.5) for m in sel])
            if sel:  # the first seed of each, drawn
                row["examples"][name] = _drawn(sel[0], seed + int(torch.nonzero(mask)[0]))
        rows.append(row)
    return rows


def sawtooth(L: int) -> nn.Sequential:
    """Telgarsky's sawtooth: L tent maps t(x) = 2 relu(x) − 4 relu(x − ½), 2^L pieces on [0, 1]."""
    layers: list[nn.Module] = []
    for _ in range(L):
        first, second = nn.Linear(1, 2).double(), nn.Linear(2, 1).double()
        with torch.no_grad():
            first.weight.fill_(1.0)
            first.bias.copy_(torch.tensor([0.0, -0.5]))
            second.weight.copy_(torch.tensor([[2.0, -4.0]]))
            second.bias.zero_()
        layers += [first, nn.ReLU(), second]
    return nn.Sequential(*layers)


def depth_vs_width(depths=(1, 2, 3, 4, 5, 6, 7, 8), seed: int = 0) -> list[dict]:
    """The sawtooth's pieces on [0, 1] beside one hidden layer with the same number of ReLUs:
    its bound 2L + 1, and a random one's count."""
    line = ([0.0], [1.0], [0.0])
    g = torch.Generator().manual_seed(seed)
    rows = []
    for L in depths:
        deep = regions(sawtooth(L), (0.0, 1.0, 0.0, 1.0), plane=line).count
        n = 2 * L
        shallow = nn.Sequential(nn.Linear(1, n), nn.ReLU(), nn.Linear(n, 1)).double()
        with torch.no_grad():  # kinks spread over [0, 1]: the most one layer can make
            shallow[0].weight.copy_(torch.randn(n, 1, generator=g, dtype=torch.float64).sign())
            shallow[0].bias.copy_(-shallow[0].weight[:, 0] * torch.rand(n, generator=g, dtype=torch.float64))
        rows.append({"L": L, "units": n, "deep_pieces": deep, "shallow_pieces": regions(shallow, (0.0, 1.0, 0.0, 1.0), plane=line).count,
                     "shallow_bound": n + 1, "deep_predicted": 2**L})
    return rows


def _init_mlp(widths: list[int], g: torch.Generator) -> nn.Sequential:
    """torch's default initialisation (weights and biases U(±1/√fan_in)), drawn from ``g``."""
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        lin = nn.Linear(a, b).double()
        bound = 1 / math.sqrt(a)
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=g)
            lin.bias.uniform_(-bound, bound, generator=g)
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def hanin_rolnick(budgets=(8, 16, 32), depths=(1, 2, 4), n_seeds: int = 100, box: float = 1.0, seed: int = 0) -> list[dict]:
    """Regions at initialisation in (−box, box)² for N hidden ReLUs split over each depth."""
    bounds = (-box, box, -box, box)
    rows = []
    for N in budgets:
        for d in depths:
            if N % d:
                continue
            g = torch.Generator().manual_seed(seed * 7919 + N * 31 + d)
            counts = [regions(_init_mlp([2] + [N // d] * d + [1], g), bounds).count for _ in range(n_seeds)]
            q = quartiles(counts)
            rows.append({"neurons": N, "depth": d, "width": N // d, **{f"regions_{k}": v for k, v in q.items()},
                         "regions_over_n2": q["median"] / N**2})
    return rows


def regions_during_training(dataset: str = "circle", layers=(8, 8), n_steps: int = 1000, n_seeds: int = 10,
                            seed: int = 0, every: int | None = None) -> dict:
    """The count of regions in the data's box at checkpoints of ReLU training (Adam 0.01, BCE)."""
    data = datasets.make(dataset, n=200, seed=seed)
    every = every or max(1, n_steps // 10)
    cfg = tr.TrainConfig(hidden=tuple(layers), activation="relu", loss="bce", n_steps=n_steps, dtype="float64")
    run = tr.train(cfg, data.X, data.y, torch.arange(seed, seed + n_seeds), track=list(range(n_seeds)), track_every=every)
    pad = 0.25 * float(np.abs(data.X).max())
    lo, hi = float(data.X.min()) - pad, float(data.X.max()) + pad
    counts = [[regions(tr.to_module(cfg, p, 2), (lo, hi, lo, hi)).count for p in run.tracked[i]] for i in range(n_seeds)]
    per_step = np.array(counts, dtype=np.float64)  # (seeds, checkpoints)
    return {"dataset": dataset, "layers": list(layers), "steps": run.tracked_steps.tolist(),
            "median": np.median(per_step, axis=0).tolist(), "q25": np.quantile(per_step, 0.25, axis=0).tolist(),
            "q75": np.quantile(per_step, 0.75, axis=0).tolist(), "final_loss_median": float(run.final_loss.median())}


def hidden_space(config: tr.TrainConfig, params, X, y, *, n_lines: int = 13, level: float = 0.5) -> dict:
    """A trained net's data, input grid and decision boundary in its last hidden layer (see
    ``hidden_space_of``)."""
    model = tr.to_module(config, torch.as_tensor(params, dtype=torch.float64), 2).double()
    return hidden_space_of(model, X, y, n_lines=n_lines, level=level)


def hidden_space_of(model: nn.Sequential, X, y, *, n_lines: int = 13, level: float = 0.5, bounds=None) -> dict:
    """``model``'s (an nn.Sequential ending in a Linear with one output, on (n, 2) points) data,
    input grid and decision boundary in its last hidden layer.

    The output is affine in the last hidden layer h: ŷ = w·h + b, so the boundary ŷ = ``level``
    is a line there. Width 2: the plane h itself; wider: its principal plane (PCA of the data
    and the grid), where the boundary is the line (w·V)·c = level − b − w·μ."""
    body, head = model[:-1], model[-1]
    X = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    if bounds is None:
        lo, hi = X.min(dim=0).values - 0.25, X.max(dim=0).values + 0.25
    else:
        lo, hi = torch.tensor([bounds[0], bounds[2]], dtype=torch.float64), torch.tensor([bounds[1], bounds[3]], dtype=torch.float64)
    t = torch.linspace(0, 1, 60, dtype=torch.float64)
    lines = []
    for s in torch.linspace(0, 1, n_lines, dtype=torch.float64):
        lines.append(torch.stack([lo[0] + s * (hi[0] - lo[0]) + 0 * t, lo[1] + t * (hi[1] - lo[1])], 1))  # vertical
        lines.append(torch.stack([lo[0] + t * (hi[0] - lo[0]), lo[1] + s * (hi[1] - lo[1]) + 0 * t], 1))  # horizontal
    with torch.no_grad():
        body = body.double()
        H = body(X)  # (n, w)
        G = [body(line) for line in lines]  # each (60, w)
    w_out, b_out = head.weight.detach().double()[0], float(head.bias.detach()[0])
    width = H.shape[1]
    if width == 2:
        mu, V, explained = torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64), 1.0
    else:
        allh = torch.cat([H, *G])
        mu = allh.mean(dim=0)
        _, S, Vt = torch.linalg.svd(allh - mu, full_matrices=False)
        V = Vt[:2].T if width > 1 else torch.cat([Vt[:1].T, torch.zeros(1, 1, dtype=torch.float64)], 1)  # (w, 2)
        explained = float((S[:2] ** 2).sum() / (S**2).sum()) if float((S**2).sum()) > 0 else 1.0
    coords = lambda h: ((h - mu) @ V).tolist()  # noqa: E731
    return {"width": width, "projection": "the hidden plane" if width == 2 else "PCA", "explained_variance": explained,
            "data": coords(H), "labels": [float(v) for v in np.asarray(y)], "grid": [coords(g) for g in G],
            "input_grid": [line.tolist() for line in lines],
            "boundary_normal": (w_out @ V).tolist(), "boundary_offset": float(level - b_out - w_out @ mu), "level": level}


def xor_hidden(activations=("linear", "tanh", "relu"), seed: int = 0, max_seeds: int = 50, n_steps: int = 3000) -> list[dict]:
    """Per activation, the hidden space of the first 2-2-1 seed that solves XOR (the first seed
    when none does, as for an affine activation); every activation in one batched pass."""
    xc = XorConfig(activations=tuple(activations), hidden=(2,), n_steps=n_steps, seed=seed)
    cfgs = [replace(xc.train_config(a), dtype="float64") for a in xc.activations]
    data = datasets.make("xor")
    runs = tr.train_many(cfgs, data.X, data.y, torch.arange(seed, seed + max_seeds))
    out = []
    for cfg, run in zip(cfgs, runs):
        pred = tr.forward(cfg, run.params, torch.as_tensor(data.X))
        solved = ((pred - torch.as_tensor(data.y)).abs() < xc.margin).all(dim=1)
        i = int(torch.nonzero(solved)[0]) if bool(solved.any()) else 0
        out.append({"activation": cfg.activation, "seed": seed + i, "solved": bool(solved[i]),
                    **hidden_space(cfg, run.params[i], data.X, data.y)})
    return out


def run_geometry(config: GeometryConfig = GeometryConfig(), progress=None) -> dict:
    """Every measurement of the module, as one JSON-ready dict (``progress(name)`` before each)."""
    progress = progress or (lambda name: None)
    out, seconds = {"config": config.to_dict()}, {}
    jobs = [
        ("xor", lambda: xor_regions(config.xor_activations, config.xor_seeds, config.seed)),
        ("depth_vs_width", lambda: depth_vs_width(config.sawtooth_depths, config.seed)),
        ("hanin_rolnick", lambda: hanin_rolnick(config.budgets, config.depths, config.hr_seeds, config.hr_box, config.seed)),
        ("training", lambda: regions_during_training(config.train_dataset, config.train_layers, config.train_steps,
                                                     config.train_seeds, config.seed)),
        ("hidden", lambda: xor_hidden(("linear", "tanh", "relu"), config.seed, config.hidden_seeds, config.hidden_steps)),
    ]
    for name, job in jobs:
        progress(name)
        t0 = time.perf_counter()
        out[name] = job()
        seconds[name] = time.perf_counter() - t0
    out["seconds"] = seconds
    return out


def measure_net(layers=(2, 8, 8, 1), activation: str = "relu", dataset: str = "xor", n_steps: int = 0,
                n_seeds: int = 20, seed: int = 0) -> dict:
    """One architecture over ``n_seeds`` seeds: draw (actlab's initial weights), train ``n_steps``
    full-batch Adam steps (MSE, the article's set-up), and count every seed's regions in the
    data's box and those the decision boundary (output ½) crosses; the first seed drawn too."""
    layers = tuple(int(w) for w in layers)
    if len(layers) < 2 or layers[0] != 2 or layers[-1] != 1:
        raise ValueError(f"layers must start with 2 inputs and end with 1 output, like 2,8,8,1; got {','.join(map(str, layers))}")
    if len(layers) < 3:
        raise ValueError("layers needs at least one hidden layer, like 2,8,1")
    data = datasets.make(dataset, n=200, seed=seed)
    cfg = tr.TrainConfig(hidden=layers[1:-1], activation=activation, n_steps=n_steps, dtype="float64", record_every=0)
    run = tr.train(cfg, data.X, data.y, torch.arange(seed, seed + n_seeds))
    pad = 0.25 * float(np.abs(data.X).max())
    bounds = (float(data.X[:, 0].min()) - pad, float(data.X[:, 0].max()) + pad,
              float(data.X[:, 1].min()) - pad, float(data.X[:, 1].max()) + pad)
    maps, seconds = [], []
    for p in run.params:
        t0 = time.perf_counter()
        maps.append(regions(tr.to_module(cfg, p, 2), bounds))
        seconds.append(time.perf_counter() - t0)
    pred = tr.forward(cfg, run.params, torch.as_tensor(data.X))
    accuracy = ((pred > 0.5) == (torch.as_tensor(data.y) > 0.5)).double().mean(dim=1)
    return {
        "layers": list(layers), "activation": activation, "dataset": dataset, "steps": n_steps, "n_seeds": n_seeds,
        "bounds": list(bounds), "regions": quartiles([m.count for m in maps]), "crossed": quartiles([m.crossed(0.5) for m in maps]),
        "accuracy_median": float(accuracy.median()), "seconds_median": float(np.median(seconds)),
        "first": _drawn(maps[0], seed),
        "hidden": {"seed": seed, **hidden_space(cfg, run.params[0], data.X, data.y)},
        "data": {"X": data.X.tolist(), "y": data.y.tolist()},
    }
