"""Two-dimensional binary datasets, generated (never downloaded) and seeded.

    xor           the 4 points of XOR: (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0
    xor_cloud     x ~ U(−1, 1)², label 1 where exactly one coordinate is negative (x₁x₂ < 0)
    circle        a disk of radius ½ (label 1) inside a ring of radii ¾..1 (label 0)
    two_gaussians two isotropic clusters at ±(½, ½), labels 0 and 1 (linearly separable)
    spiral        two interleaved Archimedean spirals
    moons         sklearn's two half-moons
    checkerboard  a 4×4 checkerboard on [−1, 1]²

``noise`` is the standard deviation of Gaussian noise added to the coordinates (labels stay
those of the clean points), so it blurs the boundary without relabelling.
Every set returns float64 ``X`` of shape (n, 2) and ``y`` of shape (n,) with values 0/1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Dataset", "make", "names", "digits_parity", "xor_images", "xor_sequences", "DATASETS"]


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray  # (n, 2) float64
    y: np.ndarray  # (n,) float64 in {0, 1}

    @property
    def n(self) -> int:
        return self.X.shape[0]


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0.0, 1.0, 1.0, 0.0])


def _xor_cloud(n, noise, rng):
    X = rng.uniform(-1, 1, size=(n, 2))
    X += np.sign(X) * 0.05  # a small gap around the axes, as the playgrounds draw it
    return X, (X[:, 0] * X[:, 1] < 0).astype(float)


def _circle(n, noise, rng):
    n_in = n // 2
    r = np.concatenate([0.5 * np.sqrt(rng.uniform(0, 1, n_in)), rng.uniform(0.75, 1.0, n - n_in)])
    t = rng.uniform(0, 2 * math.pi, n)
    X = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    return X, np.concatenate([np.ones(n_in), np.zeros(n - n_in)])


def _two_gaussians(n, noise, rng):
    y = (np.arange(n) % 2).astype(float)
    centre = np.where(y[:, None] == 1, 0.5, -0.5)
    return centre + rng.normal(0, 0.25, size=(n, 2)), y


def _spiral(n, noise, rng):
    y = (np.arange(n) % 2).astype(float)
    t = rng.uniform(0.25, 1.0, n) * 3 * math.pi  # angle along the arm
    r = t / (3 * math.pi)
    phase = math.pi * y
    return np.stack([r * np.cos(t + phase), r * np.sin(t + phase)], axis=1), y


def _moons(n, noise, rng):
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=None, random_state=int(rng.integers(2**31 - 1)))
    return (X - [0.5, 0.25]) / 1.25, y.astype(float)


def _checkerboard(n, noise, rng):
    X = rng.uniform(-1, 1, size=(n, 2))
    cells = np.floor((X + 1) * 2).astype(int)  # 4 cells per axis
    return X, ((cells[:, 0] + cells[:, 1]) % 2).astype(float)


DATASETS: dict[str, Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "xor": _xor,
    "xor_cloud": _xor_cloud,
    "circle": _circle,
    "two_gaussians": _two_gaussians,
    "spiral": _spiral,
    "moons": _moons,
    "checkerboard": _checkerboard,
}


def names() -> list[str]:
    return list(DATASETS)


def make(name: str, n: int = 200, noise: float = 0.0, seed: int = 0) -> Dataset:
    """Generate dataset ``name`` with ``n`` points (ignored for xor's 4) and coordinate ``noise``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of: {', '.join(DATASETS)}")
    if not isinstance(n, (int, np.integer)) or n < 4:
        raise ValueError(f"n must be an integer ≥ 4, got {n!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number ≥ 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    X, y = DATASETS[name](int(n), float(noise), rng)
    if noise > 0:
        X = X + rng.normal(0, noise, size=X.shape)
    return Dataset(name, np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))


def digits_parity(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` of sklearn's bundled 8 × 8 digits (drawn by ``seed``), each pixel standardised
    and the whole scaled to a mean square of 1 (so that q¹ = σ_w² + σ_b²); labels 1 for odd digits."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data.astype(np.float64)
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    X /= math.sqrt((X**2).mean())
    idx = np.random.default_rng(seed).permutation(len(X))[:rows]
    return X[idx], (d.target[idx] % 2).astype(np.float64)


def _xor_signs(shape_noise: tuple[int, ...], n: int, signal: float, seed: int):
    rng = np.random.default_rng(seed)
    a, b = rng.choice([-1.0, 1.0], size=n), rng.choice([-1.0, 1.0], size=n)
    return rng.standard_normal((n, *shape_noise)), a, b, (a == b).astype(np.float64)


def xor_images(n: int, signal: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` RGB images of 8 × 8 (n, 3, 8, 8) of Gaussian noise, the red channel shifted by ±signal
    and the green by ±signal, independently; label 1 where the two shifts agree. The XOR of two
    colours: a linear model scores chance, however many images it sees."""
    X, a, b, y = _xor_signs((3, 8, 8), n, signal, seed)
    X[:, 0] += signal * a[:, None, None]
    X[:, 1] += signal * b[:, None, None]
    return X, y


def xor_sequences(n: int, steps: int = 8, signal: float = 0.7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences (n, steps, 2) of Gaussian noise, the first feature shifted by ±signal at every
    step and the second by ±signal; label 1 where the two shifts agree (the XOR over time)."""
    X, a, b, y = _xor_signs((steps, 2), n, signal, seed)
    X[:, :, 0] += signal * a[:, None]
    X[:, :, 1] += signal * b[:, None]
    return X, y
