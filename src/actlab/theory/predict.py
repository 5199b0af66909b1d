"""``actlab.predict``: what the infinitely wide network predicts — the NNGP posterior, and the NTK's
gradient flow on the squared loss at a time t or at t = ∞ (neural-tangents'
``gradient_descent_mse_ensemble``, the same conventions).

With K the train kernel (eigenvalues λᵢ, eigenvectors vᵢ), K_td the test-train kernel, y the
targets and N = y.numel(), gradient flow on (1/2N)·Σ(f − y)² at learning rate η from the
ensemble's zero mean gives, at time t,

    mean = K_td · Σᵢ aᵢ vᵢvᵢᵀ · y,    aᵢ = (1 − e^{−λᵢηt/N})/λᵢ,   aᵢ = 1/λᵢ at t = ∞;

``get="nngp"`` is the Bayesian posterior (the readout alone trained), ``get="ntk"`` every layer
trained. The covariance over the ensemble of initialisations is neural-tangents' (Lee et al.
2019, eq. 16). Eigenvalues below n·ε·λ_max count as 0: a kernel of low rank (the identity
activation's, rank ≤ d + 1) gives the minimum-norm fit, as gradient flow from zero does — for
a linear network, the least-squares fit on (x, 1) the article computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .module import _data, kernel

__all__ = ["predict", "Prediction"]


@dataclass
class Prediction:
    """The infinite ensemble's prediction on the test inputs: ``mean`` (n_test, outputs), ``cov``
    (n_test, n_test) over initialisations (the same for every output; None unless asked)."""

    mean: torch.Tensor
    cov: torch.Tensor | None
    get: str
    t: float | None

    def __repr__(self) -> str:
        when = "t = ∞" if self.t is None else f"t = {self.t:g}"
        return f"Prediction({self.get}, {when}, mean {tuple(self.mean.shape)}, cov {'—' if self.cov is None else tuple(self.cov.shape)})"


def _check_t(t: Any) -> float | None:
    if t is None:
        return None
    ok = isinstance(t, (int, float, np.floating, np.integer)) and not isinstance(t, bool) and 0 <= float(t) <= math.inf
    if not ok:
        raise ValueError(f"t: expected a time ≥ 0 (None or math.inf for the end of training), got {t!r}")
    return None if math.isinf(float(t)) else float(t)


def _targets(y: Any, n: int) -> torch.Tensor:
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    t = t.detach().to("cpu", torch.float64)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] != n:
        raise ValueError(f"y_train: expected ({n},) or ({n}, outputs) targets, one per training input, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError("y_train: expected finite targets, got NaN or infinity")
    return t


def _weights(evals: torch.Tensor, t: float | None, rate: float) -> torch.Tensor:
    """aᵢ for every eigenvalue: (1 − e^{−ληt})/λ (``rate`` = η/N), 1/λ at t = ∞, 0 in the null space."""
    cut = evals.max().clamp_min(0) * len(evals) * torch.finfo(torch.float64).eps
    live = evals > cut
    safe = torch.where(live, evals, 1.0)
    a = 1.0 / safe if t is None else -torch.expm1(-safe * rate * t) / safe
    return torch.where(live, a, 0.0)


def predict(model: nn.Module, x_train: Any, y_train: Any, x_test: Any, *, get: str = "ntk", t: Any = None,
            sigma_w2: Any = 1.0, sigma_b2: Any = 0.0, learning_rate: float = 1.0, diag_reg: float = 0.0,
            compute_cov: bool = False) -> Prediction:
    """The prediction on ``x_test`` of ``model``'s architecture at infinite width, trained on
    (``x_train``, ``y_train``) by gradient flow on the squared loss up to time ``t`` (None: to
    convergence). ``get``: "ntk" (every layer trained) or "nngp" (the readout alone: the
    Bayesian posterior at t = None). σ's as ``actlab.kernel``. ``diag_reg``: a ridge, in units of
    the train kernel's mean diagonal (neural-tangents' ``diag_reg``), added to the train kernel."""
    if get not in ("nngp", "ntk"):
        raise ValueError(f"get: expected 'nngp' or 'ntk', got {get!r}")
    if not (isinstance(diag_reg, (int, float)) and not isinstance(diag_reg, bool) and 0 <= diag_reg < math.inf):
        raise ValueError(f"diag_reg: expected a finite ridge ≥ 0, got {diag_reg!r}")
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate < math.inf):
        raise ValueError(f"learning_rate: expected a finite rate > 0, got {learning_rate!r}")
    t = _check_t(t)
    device = x_test.device if isinstance(x_test, torch.Tensor) else torch.device("cpu")
    x_train = _data(x_train, "x_train", None)
    x_test = _data(x_test, "x_test", x_train, "x_train")
    kw = dict(sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    train = kernel(model, x_train, **kw)
    y = _targets(y_train, train.nngp.shape[0])
    cross = kernel(model, x_test, x_train, **kw)
    k_dd, k_td = getattr(train, get).cpu(), getattr(cross, get).cpu()
    if diag_reg:
        k_dd = k_dd + diag_reg * float(k_dd.diagonal().mean()) * torch.eye(len(k_dd), dtype=k_dd.dtype)
    evals, evecs = torch.linalg.eigh((k_dd + k_dd.T) / 2)
    a = _weights(evals, t, learning_rate / y.numel())
    mean = k_td @ (evecs @ (a[:, None] * (evecs.T @ y)))
    cov = None
    if compute_cov:
        k_tt = kernel(model, x_test, get="nngp", **kw).cpu()
        if get == "nngp":
            a2 = _weights(evals, None if t is None else 2 * t, learning_rate / y.numel())
            cov = k_tt - k_td @ evecs @ (a2[:, None] * (evecs.T @ k_td.T))
        else:
            term1 = evecs @ (a[:, None] * (evecs.T @ k_td.T))  # (n_train, n_test)
            term2 = k_td @ evecs @ (a[:, None] * (evecs.T @ cross.nngp.cpu().T))  # (n_test, n_test)
            cov = term1.T @ train.nngp.cpu() @ term1 - term2 - term2.T + k_tt
        cov = cov.to(device)
    return Prediction(mean.to(device), cov, get, t)
