"""The playground's data: TensorFlow Playground's six sets (its generators, its ranges: points in
[−6, 6]², labels ±1, regression targets in [−1, 1]), actlab's moons, checkerboard and the
article's 4-point XOR, the page's own points or a CSV; input features; the train/test split.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from .. import datasets as _actlab_sets
from .settings import FEATURES, Settings

__all__ = ["PlayData", "make_data", "features", "FEATURE_FNS", "parse_csv", "MAX_CSV_BYTES", "MAX_POINTS", "MAX_COORD"]

N_CLASSIFY, N_REGRESS = 500, 1200  # TensorFlow Playground's sizes
MAX_CSV_BYTES = 1 << 20
MAX_POINTS = 5000
MAX_COORD = 1e6  # coordinates and targets of the page's own points (x² features must stay finite in float32)


@dataclass(frozen=True)
class PlayData:
    points: np.ndarray  # (n, 2) float64: x₁, x₂
    labels: np.ndarray  # (n,) float64: ±1 (classification, xor4: 0/1) or a regression target
    train: np.ndarray  # (n,) bool: in the training set
    domain: tuple[float, float]  # the square drawn, [lo, hi]²
    classes: tuple[float, float] | None  # (negative, positive) label values; None: regression
    name: str

    @property
    def threshold(self) -> float:
        assert self.classes is not None
        return sum(self.classes) / 2

    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t = self.train
        return self.points[t], self.labels[t], self.points[~t], self.labels[~t]


def _circle(n, noise, rng):
    radius = 5.0
    pts = []
    for lo, hi in ((0.0, radius * 0.5), (radius * 0.7, radius)):
        r = rng.uniform(lo, hi, n // 2)
        a = rng.uniform(0, 2 * math.pi, n // 2)
        x, y = r * np.sin(a), r * np.cos(a)
        nx, ny = rng.uniform(-radius, radius, (2, n // 2)) * noise
        label = np.where(np.hypot(x + nx, y + ny) < radius * 0.5, 1.0, -1.0)
        pts.append(np.stack([x, y, label], 1))
    return np.concatenate(pts)


def _xor(n, noise, rng):
    xy = rng.uniform(-5, 5, (n, 2))
    xy += np.where(xy > 0, 0.3, -0.3)  # TensorFlow Playground's padding around the axes
    nxy = rng.uniform(-5, 5, (n, 2)) * noise
    label = np.where((xy[:, 0] + nxy[:, 0]) * (xy[:, 1] + nxy[:, 1]) >= 0, 1.0, -1.0)
    return np.column_stack([xy, label])


def _gauss(n, noise, rng):
    variance = 0.5 + (4 - 0.5) * noise / 0.5  # TensorFlow Playground's scale: noise 0..0.5 → 0.5..4
    out = []
    for c, label in ((2.0, 1.0), (-2.0, -1.0)):
        xy = rng.normal(c, variance, (n // 2, 2))  # its normalRandom takes the variance as a deviation
        out.append(np.column_stack([xy, np.full(n // 2, label)]))
    return np.concatenate(out)


def _spiral(n, noise, rng):
    m = n // 2
    out = []
    for delta, label in ((0.0, 1.0), (math.pi, -1.0)):
        i = np.arange(m)
        r = i / m * 5
        t = 1.75 * i / m * 2 * math.pi + delta
        x = r * np.sin(t) + rng.uniform(-1, 1, m) * noise
        y = r * np.cos(t) + rng.uniform(-1, 1, m) * noise
        out.append(np.column_stack([x, y, np.full(m, label)]))
    return np.concatenate(out)


def _reg_plane(n, noise, rng):
    xy = rng.uniform(-6, 6, (n, 2))
    nxy = rng.uniform(-6, 6, (n, 2)) * noise
    return np.column_stack([xy, (xy + nxy).sum(1) / 10])  # x + y in [−10, 10] → [−1, 1]


_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def _reg_gauss(n, noise, rng):
    xy = rng.uniform(-6, 6, (n, 2))
    p = xy + rng.uniform(-6, 6, (n, 2)) * noise
    cands = np.stack([s * np.clip(1 - np.hypot(p[:, 0] - cx, p[:, 1] - cy) / 2, 0, 1) for cx, cy, s in _GAUSSIANS], 1)
    pick = np.abs(cands).argmax(1)  # the one largest in absolute value
    return np.column_stack([xy, cands[np.arange(n), pick]])


def _from_actlab(name):
    def make(n, noise, rng):
        d = _actlab_sets.make(name, n, noise / 2, seed=int(rng.integers(2**31 - 1)))  # noise 0..50 % → σ 0..0.25
        return np.column_stack([d.X * 5, d.y * 2 - 1])  # scaled to the playground's [−6, 6]², labels ±1

    return make


_GENERATORS = {
    "circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral,
    "moons": _from_actlab("moons"), "checkerboard": _from_actlab("checkerboard"),
    "reg-plane": _reg_plane, "reg-gauss": _reg_gauss,
}


def make_data(settings: Settings, custom: np.ndarray | None = None) -> PlayData:
    """The run's data from its settings (seeded by ``settings.seed``). ``custom``: (n, 3)
    rows x₁, x₂, label of the page's own points (dataset or regDataset ``custom``)."""
    name = settings.data_name
    rng = np.random.default_rng(settings.data_seed)
    regression = settings.problem == "regression"
    if name == "xor4":  # the article's 4 points: trained on all four, labels 0/1, drawn on [−0.5, 1.5]²
        pts = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        return PlayData(pts, np.array([0.0, 1.0, 1.0, 0.0]), np.ones(4, bool), (-0.5, 1.5), (0.0, 1.0), name)
    if name == "custom":
        rows = np.zeros((0, 3)) if custom is None else np.asarray(custom, dtype=np.float64).reshape(-1, 3)
    else:
        n = N_REGRESS if regression else N_CLASSIFY
        rows = _GENERATORS[name](n, settings.noise / 100, rng)
    rows = rows[rng.permutation(len(rows))]
    n_train = int(round(len(rows) * settings.percTrainData / 100))
    if len(rows):  # at least one training point, and one test point when there are two
        n_train = max(n_train, 1) if len(rows) == 1 else min(max(n_train, 1), len(rows) - 1)
    train = np.arange(len(rows)) < n_train
    lo = min(-6.0, float(rows[:, :2].min()) if len(rows) else -6.0)
    hi = max(6.0, float(rows[:, :2].max()) if len(rows) else 6.0)
    if name == "custom":  # the page's points: the square around them, a margin of a tenth
        span = max(1e-9, hi - lo)
        lo, hi = lo - 0.05 * span, hi + 0.05 * span
    else:
        lo, hi = -6.0, 6.0
    return PlayData(rows[:, :2].copy(), rows[:, 2].copy(), train, (lo, hi), None if regression else (-1.0, 1.0), name)


# TensorFlow Playground's input features of a point (x, y), for numpy or torch (``sin`` given)
FEATURE_FNS = {
    "x": lambda x, y, sin: x,
    "y": lambda x, y, sin: y,
    "xSquared": lambda x, y, sin: x * x,
    "ySquared": lambda x, y, sin: y * y,
    "xTimesY": lambda x, y, sin: x * y,
    "sinX": lambda x, y, sin: sin(x),
    "sinY": lambda x, y, sin: sin(y),
}


def features(points: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(n, len(names)) input features of (n, 2) points, TensorFlow Playground's definitions."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"unknown features {unknown}; expected some of {', '.join(FEATURES)}")
    return np.stack([FEATURE_FNS[n](points[:, 0], points[:, 1], np.sin) for n in names], axis=1)


def parse_csv(text: str, problem: str) -> np.ndarray:
    """(n, 3) rows x₁, x₂, label from CSV text: three numeric columns, an optional header row.

    Classification: exactly two distinct labels (any numbers, e.g. 0/1 or −1/1), mapped to
    −1 (the smaller) and +1. Regression: any finite targets. Raises ValueError with the line.
    """
    if len(text.encode("utf-8", "replace")) > MAX_CSV_BYTES:
        raise ValueError(f"the CSV is larger than {MAX_CSV_BYTES // 1024} KiB")
    rows = []
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows and old Mac line ends
    try:
        records = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as e:
        raise ValueError(f"the CSV cannot be read: {e}") from None
    for i, rec in enumerate(records, start=1):
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) != 3:
            raise ValueError(f"CSV line {i}: expected 3 columns (x1, x2, label), got {len(rec)}")
        try:
            vals = [float(c) for c in rec]
        except ValueError:
            if not rows and i == 1:
                continue  # a header
            raise ValueError(f"CSV line {i}: expected numbers, got {','.join(rec)[:60]!r}") from None
        if not all(math.isfinite(v) and abs(v) <= MAX_COORD for v in vals):
            raise ValueError(f"CSV line {i}: values must be finite and within ±{MAX_COORD:g}, got {','.join(rec)[:60]!r}")
        rows.append(vals)
        if len(rows) > MAX_POINTS:
            raise ValueError(f"the CSV has more than {MAX_POINTS} rows")
    if len(rows) < 2:
        raise ValueError(f"the CSV needs at least 2 data rows (x1, x2, label), got {len(rows)}")
    arr = np.array(rows)
    if problem == "classification":
        values = np.unique(arr[:, 2])
        if len(values) != 2:
            raise ValueError(f"classification needs exactly 2 distinct labels, the CSV has {len(values)}")
        arr[:, 2] = np.where(arr[:, 2] == values[1], 1.0, -1.0)
    return arr
