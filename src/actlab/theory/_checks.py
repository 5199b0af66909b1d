"""The one argument check of the theory's public functions: σ's, depths and inputs, each
expected-vs-got.

A σ may be any real scalar a user holds (int, float, a NumPy scalar, a 0-d array or tensor);
bools, strings and non-finite values are refused. Inputs of any floating dtype, on any device,
are computed on the CPU in float64 (the rules and series are CPU code, and float64 is what the
promised accuracy needs) and returned on the caller's device.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from ._gauss import check_elementwise

__all__ = ["check_sigma", "check_depth", "check_batch", "check_inputs", "check_args", "VarianceOverflowError"]


class VarianceOverflowError(OverflowError):
    """A variance (or an NTK entry) that leaves float64 with depth: named with its input and layer."""


_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _real(t: torch.Tensor) -> bool:
    return t.is_floating_point() or t.dtype in _INTS


def _scalar(value: Any) -> float | None:
    """``value`` as a float if it is a real scalar (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):  # int, float and NumPy's real scalars
        return float(value)
    if isinstance(value, torch.Tensor) and value.ndim == 0 and _real(value):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    return None


def check_sigma(name: str, value: Any, *, zero_ok: bool) -> float:
    """A weight variance (``zero_ok`` False: > 0) or a bias variance (≥ 0) as a float."""
    v = _scalar(value)
    if v is None or not math.isfinite(v) or v < 0 or (v == 0 and not zero_ok):
        what = "a finite bias variance ≥ 0" if zero_ok else "a finite weight variance > 0"
        raise ValueError(f"{name}: expected {what} (a real number), got {value!r}")
    return v


def check_depth(value: Any, *, least: int = 0, what: str = "the number of hidden layers") -> int:
    """A depth: an integer (a NumPy integer too) ≥ ``least``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)) or value < least:
        raise ValueError(f"depth: expected {what}, an int ≥ {least}, got {value!r}")
    return int(value)


def check_batch(x: Any, label: str, *, like: torch.Tensor | None = None, like_label: str = "x1",
                dense: bool = True) -> torch.Tensor:
    """A batch of inputs as a float64 CPU tensor: (n, d) with d ≥ 1 (``dense``) or (n, …) shaped as a
    model takes them; with ``like``, the same shape after the batch dimension."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))  # a list of floats stays float64
    if not _real(t):
        raise ValueError(f"{label}: expected real inputs, got dtype {t.dtype}")
    bad = (t.ndim != 2 or t.shape[1] == 0) if dense else (t.ndim < 2 or t.shape[0] == 0)
    if bad or (like is not None and t.shape[1:] != like.shape[1:]):
        if like is not None:
            want = f"(n, {', '.join(map(str, like.shape[1:]))}) like {like_label}"
        else:
            want = "a batch of inputs (n1, d) with d ≥ 1" if dense else "a batch (n, ...) of at least one input"
        raise ValueError(f"{label}: expected {want}, got shape {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{label}: expected finite inputs, got NaN or infinity")
    return t


def check_inputs(x1: Any, x2: Any = None) -> tuple[torch.Tensor, torch.Tensor | None, torch.device]:
    """(x1, x2 or None) as float64 CPU tensors, and the device the result goes back to (x1's)."""
    device = x1.device if isinstance(x1, torch.Tensor) else torch.device("cpu")
    a = check_batch(x1, "x1")
    return a, (None if x2 is None else check_batch(x2, "x2", like=a)), device


def check_args(activation: str, depth: Any, sigma_w2: Any, sigma_b2: Any, *, least_depth: int = 0) -> tuple[str, int, float, float]:
    """The canonical activation name, the depth and both σ's as Python numbers."""
    return (check_elementwise(activation), check_depth(depth, least=least_depth),
            check_sigma("sigma_w2", sigma_w2, zero_ok=False), check_sigma("sigma_b2", sigma_b2, zero_ok=True))
