"""Intervals: the 95 % Wilson interval every success rate in actlab carries, and the quartiles
every median carries."""

from __future__ import annotations

import math

import torch

__all__ = ["wilson", "quartiles"]


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials, in closed form (z the normal quantile):

        (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)

    (the same as scipy's ``binomtest(k, n).proportion_ci(method="wilson")``, without importing
    scipy: 2 s in a fresh process)."""
    import statistics

    if not (0 <= k <= n and n >= 1):
        raise ValueError(f"wilson needs 0 ≤ k ≤ n and n ≥ 1, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p, z2 = k / n, z * z
    center = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (0.0 if k == 0 else max(0.0, center - half)), (1.0 if k == n else min(1.0, center + half))


def quartiles(values) -> dict:
    """{"q25", "median", "q75", "n"} of ``values`` (None for all three when there are none)."""
    t = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if t.numel() == 0:
        return {"q25": None, "median": None, "q75": None, "n": 0}
    q = torch.quantile(t, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)).tolist()
    return {"q25": q[0], "median": q[1], "q75": q[2], "n": int(t.numel())}
