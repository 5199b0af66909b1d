"""Initialise any model's Linear and Conv layers at a chosen (σ_w², σ_b²), or at its activation's
edge of chaos.

    actlab.init.init_(model, sigma_w2=2.0)                        # He-normal, for any module tree
    actlab.init.critical_(model, "tanh", sigma_b2=0.05)           # σ_w² = 1.7610: χ₁ = 1
    actlab.init.critical_(model, "hardtanh", dist="orthogonal")   # orthogonal weights at the edge

The conventions are the mean-field theory's (``actlab.signal``): weights of variance σ_w²/fan_in
(fan_in = in_features, or in_channels/groups × the kernel's size), biases of variance σ_b². With
``dist="orthogonal"`` the weight, flattened to (out, fan_in), is √σ_w²·max(1, out/fan_in)^½ times
a random orthogonal matrix: the same mean square gain as the Gaussian, every singular value
equal (Saxe et al. 2014; Pennington et al. 2017). ``torch.nn.init.calculate_gain`` knows a few
activations; ``critical_`` knows every elementwise activation of the registry, from the theory.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["init_", "critical_", "LAYERS"]

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)  # the layers initialised; others are left as they are
DISTS = ("gaussian", "orthogonal")


def _fan_in(layer: nn.Module) -> int:
    w = layer.weight
    return w.shape[1] * math.prod(w.shape[2:])


@torch.no_grad()
def _init_layer(layer: nn.Module, sigma_w2: float, sigma_b2: float, dist: str, g: torch.Generator | None) -> None:
    w, fan_in = layer.weight, _fan_in(layer)
    if dist == "gaussian":
        w.copy_(torch.randn(w.shape, generator=g, dtype=w.dtype) * math.sqrt(sigma_w2 / fan_in))
    else:
        out = w.shape[0]
        a = torch.randn(max(out, fan_in), min(out, fan_in), generator=g, dtype=torch.float64)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))  # Haar-distributed (Mezzadri 2007)
        q = q if out >= fan_in else q.T  # (out, fan_in), orthonormal columns or rows
        w.copy_((q * math.sqrt(sigma_w2 * max(1.0, out / fan_in))).reshape(w.shape).to(w.dtype))
    if layer.bias is not None:
        layer.bias.copy_(torch.randn(layer.bias.shape, generator=g, dtype=layer.bias.dtype) * math.sqrt(sigma_b2))


def init_(model: nn.Module, sigma_w2: float, sigma_b2: float = 0.0, *, dist: str = "gaussian",
          generator: torch.Generator | None = None) -> nn.Module:
    """Every nn.Linear and nn.Conv1d/2d/3d of ``model``, in place: weights of variance
    σ_w²/fan_in (``dist`` "gaussian") or scaled random orthogonal ("orthogonal"), biases
    N(0, σ_b²). Returns ``model``. ValueError if it has no such layer."""
    if not (isinstance(sigma_w2, (int, float)) and 0 < sigma_w2 < math.inf):
        raise ValueError(f"sigma_w2: expected a finite weight variance > 0, got {sigma_w2!r}")
    if not (isinstance(sigma_b2, (int, float)) and 0 <= sigma_b2 < math.inf):
        raise ValueError(f"sigma_b2: expected a finite bias variance ≥ 0, got {sigma_b2!r}")
    if dist not in DISTS:
        raise ValueError(f"dist: expected one of {', '.join(DISTS)}, got {dist!r}")
    layers = [m for m in model.modules() if isinstance(m, LAYERS)]
    if not layers:
        raise ValueError(f"expected a model with nn.Linear or nn.Conv layers, got {type(model).__name__} with none")
    for layer in layers:
        _init_layer(layer, float(sigma_w2), float(sigma_b2), dist, generator)
    return model


def critical_(model: nn.Module, activation: str, sigma_b2: float = 0.0, *, dist: str = "gaussian",
              generator: torch.Generator | None = None) -> nn.Module:
    """``init_`` at the edge of chaos of ``activation``: σ_w² = ``actlab.critical_sigma_w2``
    (χ₁ = 1, gradients neither vanish nor explode on average). ValueError where the activation
    has none with a finite signal (relu with σ_b² > 0) or is not elementwise (maxout)."""
    from .theory import critical_sigma_w2

    return init_(model, critical_sigma_w2(activation, sigma_b2), sigma_b2, dist=dist, generator=generator)
