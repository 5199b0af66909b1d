"""Experiments E2–E4: random affine networks against the article's OLS and the exact collapse.

The article's method: X ~ U(0, 1) with its sample counts (dense 1,024 train rows, conv 8,192,
rnn 1,024; 1,024 test rows each), y = f(X), sklearn ``LinearRegression``, r² and MSE on the
test rows. Ours: ``check_affine`` with 16 pairs per scale (exact collapse + certificate). Both use a float64 copy of
the model, so the difference in error is the method's, not the dtype's.

Timings: ``ols_seconds`` is the article's whole procedure (evaluate the model on the train and
test rows, fit, predict, score); ``collapse_seconds`` is building W and b (``AffineMap.seconds``).
Both maps are scored on the same test rows: max relative error = max|ŷ − y| / max|y|.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass

import torch

from .. import activations, nets
from ..affine import check_affine, relative_error

__all__ = ["CollapseResult", "ARTICLE_SAMPLES", "run_collapse", "ols_baseline"]

ARTICLE_SAMPLES = {"dense": 1024, "conv": 8192, "rnn": 1024}  # the article's training rows
# the r² the article printed for its float32 Keras networks (as text: its digits)
ARTICLE_R2 = {"dense": "0.999999999999102", "conv": "0.99999999997931", "rnn": "0.99999999997490"}
N_TEST = 1024  # test rows for both methods


@dataclass(frozen=True)
class CollapseResult:
    arch: str
    seed: int
    activation: str
    summary: str  # what was drawn, e.g. "dense 45 → [630, 193] → 37"
    in_shape: list[int]
    out_shape: list[int]
    n_train: int | None
    ols_r2: float | None  # None when the OLS baseline was skipped
    ols_mse: float | None
    ols_seconds: float | None
    ols_max_rel_error: float | None
    collapse_max_rel_error: float | None  # None when the function is non-finite
    collapse_seconds: float | None
    collapse_method: str | None
    rank: int | None
    affine: bool
    verdict: str  # "affine", "not affine", "non-finite"
    residual: float
    tolerance: float

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def _eval(model: torch.nn.Module, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)]).reshape(x.shape[0], -1)


def ols_baseline(model: torch.nn.Module, in_shape, n_train: int, n_test: int = N_TEST, seed: int = 0) -> dict:
    """The article's method on a float64 copy of ``model``: r², MSE, seconds, max relative error."""
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_squared_error, r2_score

    m64 = copy.deepcopy(model).to(torch.float64).eval()
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    x_train = torch.rand((n_train, *in_shape), generator=g, dtype=torch.float64)
    y_train = _eval(m64, x_train)  # (n_train, m)
    ols = LinearRegression().fit(x_train.reshape(n_train, -1).numpy(), y_train.numpy())
    x_test = torch.rand((n_test, *in_shape), generator=g, dtype=torch.float64)
    y_test = _eval(m64, x_test).numpy()  # (n_test, m)
    pred = ols.predict(x_test.reshape(n_test, -1).numpy())
    r2, mse = float(r2_score(y_test, pred)), float(mean_squared_error(y_test, pred))
    seconds = time.perf_counter() - t0
    return {
        "r2": r2,
        "mse": mse,
        "seconds": seconds,
        "max_rel_error": relative_error(torch.from_numpy(pred) - torch.from_numpy(y_test), torch.from_numpy(y_test)),
        "x_test": x_test,
        "y_test": torch.from_numpy(y_test),
    }


def run_collapse(
    arch: str,
    seed: int = 0,
    activation: str = "linear",
    *,
    ols: bool = True,
    n_train: int | None = None,
    spec: nets.NetSpec | None = None,
) -> CollapseResult:
    """Draw (or build from ``spec``) one network and measure both methods on it."""
    activation = activations.resolve(activation)
    if spec is None:
        spec, model = nets.random_net(arch, seed, activation)
    else:
        model = nets.build(spec, activation, seed)
    n_train = ARTICLE_SAMPLES[spec.arch] if n_train is None else int(n_train)
    if n_train < 1:
        raise ValueError(f"n_train must be ≥ 1, got {n_train}")
    check = check_affine(model, spec.in_shape, seed=seed, n_pairs=16)  # 16 pairs × 5 scales: ReLU nets fail at every seed
    base = ols_baseline(model, spec.in_shape, n_train, seed=seed) if ols else None
    if base is not None:
        x_test, y_test = base["x_test"], base["y_test"]
    else:
        g = torch.Generator().manual_seed(seed + 1)
        x_test = torch.rand((N_TEST, *spec.in_shape), generator=g, dtype=torch.float64)
        y_test = _eval(copy.deepcopy(model).to(torch.float64), x_test)
    amap = check.map
    col_err = None
    if amap is not None and torch.isfinite(y_test).all():
        col_err = relative_error(amap(x_test).reshape(N_TEST, -1) - y_test, y_test)
    return CollapseResult(
        arch=spec.arch,
        seed=int(seed),
        activation=activation,
        summary=spec.summary(),
        in_shape=list(spec.in_shape),
        out_shape=list(spec.out_shape),
        n_train=n_train if ols else None,
        ols_r2=None if base is None else base["r2"],
        ols_mse=None if base is None else base["mse"],
        ols_seconds=None if base is None else base["seconds"],
        ols_max_rel_error=None if base is None else base["max_rel_error"],
        collapse_max_rel_error=col_err,
        collapse_seconds=None if amap is None else amap.seconds,
        collapse_method=None if amap is None else amap.method,
        rank=None if amap is None else amap.rank(),
        affine=check.is_affine,
        verdict=check.verdict,
        residual=check.residual,
        tolerance=check.tolerance,
    )


def run_collapse_many(
    archs: list[str],
    seeds: list[int],
    activation: str = "linear",
    *,
    ols: bool = True,
    on_row=None,
) -> list[CollapseResult]:
    """``run_collapse`` for every (arch, seed); ``on_row(result)`` is called after each."""
    for arch in archs:
        nets.draw(arch, 0)  # validates the name before any work
    activations.resolve(activation)
    rows = []
    for arch in archs:
        for seed in seeds:
            rows.append(run_collapse(arch, seed, activation, ols=ols))
            if on_row is not None:
                on_row(rows[-1])
    return rows
