"""Tolerances and relative errors: how close two computations must be to count as equal.

Every certificate, merge check and benchmark in actlab compares with ``relative_error`` against
``tolerance_for`` the dtype the computation ran in.
"""

from __future__ import annotations

import math

import torch

__all__ = ["tolerance_for", "relative_error", "ratio"]


def tolerance_for(dtype: torch.dtype) -> float:
    """Relative tolerance for a computation carried out in ``dtype``: max(eps^(3/4), 1024·eps),
    capped at 0.05.

    float64 → 1.8e-12; float32 → 1.2e-4: room above the rounding of deep affine nets, far
    below the residuals of real nonlinearities (1e-2 and more).
    """
    eps = float(torch.finfo(dtype).eps)
    return min(0.05, max(eps**0.75, 1024 * eps))


def relative_error(err: torch.Tensor, ref: torch.Tensor) -> float:
    """max |err| / max |ref| over the whole batch (0/0 → 0, non-finite → inf): the residual
    every certificate and benchmark in actlab reports."""
    num = err.abs().max().item() if err.numel() else 0.0
    den = ref.abs().max().item() if ref.numel() else 0.0
    return ratio(num, den)


def ratio(num: float, den: float) -> float:
    """num / den for relative_error's maxima: 0/0 → 0, x/0 → inf, non-finite → inf."""
    if not math.isfinite(num) or not math.isfinite(den):
        return math.inf
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den
