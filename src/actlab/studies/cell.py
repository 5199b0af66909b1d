"""One cell of a sweep: its data, its ``train_many`` call over seeds 0..N−1, and its row.

Success is ``actlab xor``'s: on xor every output within 0.4 of its target, elsewhere a training
accuracy of at least 0.9 (the output read as a probability: itself for the squared error, its
sigmoid for cross-entropy). A seed whose loss or outputs are not finite never succeeds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from .. import datasets
from .. import train as tr
from ..stats import wilson
from .spec import DEFAULTS, train_config

__all__ = ["run_cell", "cell_data", "train_config", "cell_flops", "MARGIN", "MIN_ACCURACY"]

MARGIN = 0.4  # xor: every output within this of its target (actlab xor's)
MIN_ACCURACY = 0.9  # other sets: training accuracy at least this


def cell_data(cell: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The cell's (X, y): a lab dataset drawn by ``data_draw``, or sklearn's digits, odd against even."""
    name = cell.get("dataset", DEFAULTS["dataset"])
    points, draw = cell.get("points", DEFAULTS["points"]), cell.get("data_draw", DEFAULTS["data_draw"])
    if name == "digits_parity":
        from ..datasets import digits_parity

        return digits_parity(points, draw)
    d = datasets.make(name, n=points, noise=cell.get("noise", DEFAULTS["noise"]), seed=draw)
    return d.X, d.y


def cell_flops(cell: dict[str, Any], seeds: int) -> int:
    """Floating-point operations of the cell's training, its matrix products counted exactly:
    2 per multiply-add, three products a weight per row and step (forward, backward to the
    activations, the weights' gradient), full batch or minibatches alike (every row once a step
    when full batch; ``batch_size`` rows otherwise). Elementwise work and the optimiser are left out."""
    cfg = train_config(cell, "cpu")
    if cell.get("dataset", DEFAULTS["dataset"]) == "xor":
        n, n_in = 4, 2
    elif cell.get("dataset") == "digits_parity":
        n, n_in = cell.get("points", DEFAULTS["points"]), 64
    else:
        n, n_in = cell.get("points", DEFAULTS["points"]), 2
    rows = min(n, cfg.batch_size or n)
    weights = sum(r * c for r, c in tr.layer_sizes(cfg, n_in))
    return 2 * 3 * rows * weights * cfg.n_steps * seeds


def run_cell(cell: dict[str, Any], seeds: int, device: str = "cpu") -> dict[str, Any]:
    """Train the cell's nets over seeds 0..seeds−1 and return its row (the cell's keys first)."""
    t0 = time.perf_counter()
    X, y = cell_data(cell)
    cfg = train_config(cell, device)
    run = tr.train_many([cfg], X, y, seeds)[0]
    Xt = torch.as_tensor(X, dtype=cfg.torch_dtype)
    yt = torch.as_tensor(y, dtype=torch.float64)
    with torch.no_grad():
        out = tr.forward(cfg, run.params, Xt).double()  # (S, n)
    pred = torch.sigmoid(out) if cfg.loss == "bce" else out
    finite = torch.isfinite(run.final_loss.double()) & torch.isfinite(pred).all(dim=1)
    if cell.get("dataset", DEFAULTS["dataset"]) == "xor":
        success, criterion = ((pred - yt).abs() < MARGIN).all(dim=1), f"every output within {MARGIN} of its target"
    else:
        success = ((pred > 0.5) == (yt > 0.5)).double().mean(dim=1) >= MIN_ACCURACY
        criterion = f"training accuracy ≥ {MIN_ACCURACY}"
    success &= finite
    k = int(success.sum())
    loss = run.final_loss.double()
    loss = loss[torch.isfinite(loss)]
    return {**cell, "seeds": seeds, "n_success": k, "success_rate": k / seeds, "success_ci": list(wilson(k, seeds)),
            "median_loss": float(loss.median()) if loss.numel() else None, "criterion": criterion,
            "seconds": time.perf_counter() - t0, "device": str(tr.resolve_device(device))}
