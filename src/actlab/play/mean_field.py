"""The playground's initialisation at a chosen (σ_w², σ_b²) or at the activation's edge of chaos,
and what the mean-field theory (``actlab.signal``) says about it.

Three schemes (the URL key ``init``): ``glorot``, actlab's trainer's default (weights
U(±√(6/(fan_in + fan_out))), zero biases: σ_w² = 2·fan_in/(fan_in + fan_out), 1 between equal
widths); ``gaussian``, weights N(0, σ_w²/fan_in) and biases N(0, σ_b²) (keys ``sigmaW2``,
``sigmaB2``); ``critical``, the same at σ_w² = ``actlab.critical_sigma_w2(activation, σ_b²)``,
where χ₁ = 1. Each engine resolves its own activation's, so a comparison at "critical" compares
two nets each at its own edge.
"""

from __future__ import annotations

import math
from typing import Any

from .settings import Settings

__all__ = ["resolve_init", "layer_sigmas", "theory"]


def resolve_init(settings: Settings, activation: str) -> tuple[str, float, float, str | None]:
    """(init for ``init_weights``, σ_w², σ_b², a notice or None) of ``settings`` for ``activation``."""
    if settings.init == "glorot":
        return "glorot", 1.0, 0.0, None
    if settings.init == "gaussian":
        return "gaussian", settings.sigmaW2, settings.sigmaB2, None
    if activation == "maxout":
        return ("gaussian", settings.sigmaW2, settings.sigmaB2,
                f"init=critical: maxout has no edge of chaos here (not elementwise); using σ_w² = {settings.sigmaW2:g}")
    from ..theory import critical_sigma_w2

    try:
        return "gaussian", critical_sigma_w2(activation, settings.sigmaB2), settings.sigmaB2, None
    except ValueError as e:
        return "gaussian", settings.sigmaW2, settings.sigmaB2, f"init=critical: {e}; using σ_w² = {settings.sigmaW2:g}"


def layer_sigmas(sizes: list[tuple[int, int]], init: str, sigma_w2: float, sigma_b2: float) -> list[tuple[float, float]]:
    """(σ_w², σ_b²) of each weight layer (rows, cols): glorot's depends on the layer's shape."""
    if init == "glorot":
        return [(2.0 * cols / (cols + rows), 0.0) for rows, cols in sizes]
    return [(sigma_w2, sigma_b2)] * len(sizes)


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def theory(settings: Settings, activation: str) -> dict[str, Any]:
    """The phase, χ₁, ξ_c and q* of ``activation`` at the settings' initialisation (glorot: at
    σ_w² = 1, σ_b² = 0, its value between equal widths)."""
    init, w2, b2, note = resolve_init(settings, activation)
    out: dict[str, Any] = {"init": settings.init, "activation": activation, "sigma_w2": w2, "sigma_b2": b2, "note": note}
    if activation == "maxout":
        return out | {"note": "maxout is not elementwise: no mean-field theory here"}
    from ..theory import signal

    s = signal(activation, w2, b2)
    return out | {"phase": s.phase, "chi1": _finite(s.chi1), "xi_c": _finite(s.xi_c), "q_star": _finite(s.q_star)}
