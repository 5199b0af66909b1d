"""Quadrature rules for expectations over a standard normal z ~ N(0, 1).

One rule serves every integral of the theory: composite Gauss–Legendre on [−L, L], in panels of
equal width, with extra breakpoints where the integrand has a kink. A kinked activation (relu6,
hardtanh, selu, …) makes a function that is smooth between its kinks, so each panel integrates
a smooth piece and the rule converges exponentially; Gauss–Hermite, which spreads its nodes over
the kink, converges only algebraically there. The weights carry the normal density, so
``(f(nodes) * weights).sum(-1)`` is E[f(z)] directly.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

__all__ = ["HALF_WIDTH", "normal_rule", "graded"]

HALF_WIDTH = 11.0  # L: the normal's mass beyond ±11 is 4e-28, below float64's resolution of any moment used here
ORDER = 12  # Gauss–Legendre nodes per panel: exact for polynomials of degree 23 on each piece


@lru_cache(maxsize=8)
def _legendre(order: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, w = np.polynomial.legendre.leggauss(order)
    return torch.from_numpy(x), torch.from_numpy(w)


def normal_rule(breaks: torch.Tensor | None, panel: float, order: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights (..., n) of E over N(0, 1): panels of width ≤ ``panel`` on [−L, L], split
    at ``breaks`` (..., b) as well (clamped to [−L, L]; non-finite ones are ignored). ``breaks``
    None: one shared rule of shape (n,)."""
    m = max(1, math.ceil(2 * HALF_WIDTH / panel))
    grid = torch.linspace(-HALF_WIDTH, HALF_WIDTH, m + 1, dtype=torch.float64)
    if breaks is None or breaks.shape[-1] == 0:
        edges = grid
    else:
        b = torch.nan_to_num(breaks.to(torch.float64), nan=HALF_WIDTH, posinf=HALF_WIDTH, neginf=-HALF_WIDTH)
        edges = torch.cat([grid.expand(*b.shape[:-1], m + 1), b.clamp(-HALF_WIDTH, HALF_WIDTH)], -1).sort(-1).values
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]  # (..., panels, 1): a break on the grid makes an empty panel
    x, w = _legendre(order or ORDER)
    nodes = (lo + hi) / 2 + (hi - lo) / 2 * x
    weights = (hi - lo) / 2 * w * torch.exp(-nodes * nodes / 2) / math.sqrt(2 * math.pi)
    return nodes.flatten(-2), weights.flatten(-2)


def graded(centres: torch.Tensor, width: torch.Tensor | float, panel: float) -> torch.Tensor:
    """Breaks (..., b) at each centre (..., c) and at centre ± width·2^j up to ``panel``: panels
    that widen geometrically away from a feature of ``width`` (a sharp activation at a large
    variance, whose step the rule's even panels would step over). ``width`` per row (...,) or one
    for all; none beyond the centres where every width is already ≥ ``panel``."""
    width = torch.as_tensor(width, dtype=torch.float64)
    least = float(width.min()) if width.numel() else panel
    levels = math.ceil(math.log2(panel / least)) if least < panel else 0
    if levels == 0:
        return centres
    steps = 2.0 ** torch.arange(levels, dtype=torch.float64)
    offsets = torch.cat([-steps.flip(0), steps])  # (2J,)
    around = centres[..., :, None] + width.reshape(*width.shape, 1, 1) * offsets  # (..., c, 2J)
    return torch.cat([centres, around.flatten(-2)], -1)
