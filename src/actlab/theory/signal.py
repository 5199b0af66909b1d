"""A signal through depth: mean-field theory of random networks (Poole et al. 2016; Schoenholz
et al. 2017, "Deep Information Propagation"), for every elementwise activation of the registry.

A deep net with weights of variance σ_w²/fan_in and biases of variance σ_b² carries an input's
pre-activation variance q and a pair's correlation c from layer to layer by two maps:

    q_{l+1} = σ_w² E[φ(√q z)²] + σ_b²                                  (``q_map``)
    c_{l+1} = (σ_w² E[φ(u)φ(v)] + σ_b²) / q*,  (u, v) of variance q*, correlation c   (``c_map``)

q* is the q map's stable fixed point, reached from q = 1 (0 when the signal dies, ∞ when it
grows without bound). χ₁ = σ_w² E[φ′(√q* z)²] is the slope of the c map at c = 1: below 1 every
pair of inputs becomes the same signal (ordered; c* = 1), above 1 nearby inputs separate
(chaotic; c* < 1), and at 1 the net is at the edge of chaos. Perturbations of q and of c decay as
e^{−l/ξ}: ξ_q = −1/ln(∂q_map/∂q at q*), ξ_c = −1/ln χ_c with χ_c = σ_w² E[φ′(u)φ′(v)] at
(q*, c*) — ∞ at criticality. Gradients scale as χ₁ per layer.

The input-output Jacobian J = D_L W_L ⋯ D_1 W_1 (D_l = diag φ′(h_l)) of such a net at
criticality has eigenvalues of J Jᵀ with mean χ₁^L = 1 and, for large widths, variance
(Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid")

    σ²_JJᵀ = L (μ₂/μ₁² − 1 − s₁),   μ_k = E[φ′(√q* z)^(2k)]          (``jacobian_variance``)

with s₁ = −1 for Gaussian weights and 0 for orthogonal ones: L for a linear net with Gaussian
weights, 0 with orthogonal ones (dynamical isometry), 2L and L for ReLU.

Every expectation comes from ``_gauss`` (closed forms where they exist, exact series and rules
elsewhere), float64.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch

from .. import activations
from ..train import act_and_deriv
from ._checks import check_args, check_depth, check_sigma
from ._gauss import KINKS, check_elementwise, pair_expectations, second_moments
from ._rules import normal_rule

__all__ = ["SignalPropagation", "signal", "critical_sigma_w2", "q_map", "c_map", "derivative_moments", "jacobian_variance"]

CRITICAL_TOL = 1e-3  # |χ₁ − 1| at most this is called critical
Q_GRID = torch.logspace(-10, 8, 361, dtype=torch.float64)  # where the q map's fixed point is looked for
Q_TINY = 1e-12  # q → 0⁺: where a vanishing signal's slopes are read (relu′(0) = 0 would mislead)


def _check(activation: str, sigma_w2, sigma_b2) -> tuple[str, float, float]:
    """The canonical name and both σ's as floats (the theory's one argument check)."""
    name, _, w2, b2 = check_args(activation, 0, sigma_w2, sigma_b2)
    return name, w2, b2


def _values(label: str, x, lo: float, hi: float) -> torch.Tensor:
    """Values of q or c as a flat float64 CPU tensor, each finite and in [lo, hi]."""
    t = (x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)).to("cpu", torch.float64).reshape(-1)
    if not bool(torch.isfinite(t).all()) or bool((t < lo).any()) or bool((t > hi).any()):
        raise ValueError(f"{label}: expected finite values in [{lo:g}, {hi:g}], got {x!r}")
    return t


def q_map(activation: str, q, sigma_w2: float, sigma_b2: float = 0.0) -> torch.Tensor:
    """q_{l+1} = σ_w² E[φ(√q z)²] + σ_b² for each variance in ``q``, float64."""
    name, sigma_w2, sigma_b2 = _check(activation, sigma_w2, sigma_b2)
    q = _values("q", q, 0.0, math.inf)
    return sigma_w2 * second_moments(name, q)[0] + sigma_b2


def c_map(activation: str, c, q: float, sigma_w2: float, sigma_b2: float = 0.0) -> torch.Tensor:
    """c_{l+1} = (σ_w² E[φ(u)φ(v)] + σ_b²) / q_{l+1} for each correlation in ``c``, both inputs
    of variance ``q`` (at q*, q_{l+1} = q*), float64."""
    name, sigma_w2, sigma_b2 = _check(activation, sigma_w2, sigma_b2)
    c = _values("c", c, -1.0, 1.0)
    q = check_sigma("q", q, zero_ok=False)
    qt = torch.tensor([q], dtype=torch.float64)
    e = pair_expectations(name, qt, qt.expand(len(c)).clone(), (c * q)[None, :], want_deriv=False)[0][0]
    return (sigma_w2 * e + sigma_b2) / float(q_map(name, qt, sigma_w2, sigma_b2)[0])


def _q_star(name: str, sigma_w2: float, sigma_b2: float) -> float:
    """The stable fixed point of the q map reached from q = 1: where q_map(q) − q turns from
    positive to negative nearest to 1, refined by bisection; 0 or ∞ where the signal dies or grows."""
    g = q_map(name, Q_GRID, sigma_w2, sigma_b2) - Q_GRID
    down = ((g[:-1] > 0) & (g[1:] <= 0)).nonzero().flatten()  # stable crossings
    if len(down) == 0:
        if bool((g[Q_GRID >= 1] > 0).all()):
            return math.inf
        return 0.0
    start = int(torch.argmin((torch.log(Q_GRID[down]) - 0.0).abs()))
    i = int(down[start])
    if float(g[i + 1]) == 0.0:
        return float(Q_GRID[i + 1])
    # g(q)/q = q_map(q)/q − 1 goes from + to − across the cell (grid points 12 % apart): its root in log q
    return _log_root(lambda q: 1.0 - float(q_map(name, [q], sigma_w2, sigma_b2)[0]) / q, float(Q_GRID[i]), float(Q_GRID[i + 1]),
                     -float(g[i] / Q_GRID[i]), -float(g[i + 1] / Q_GRID[i + 1]))


def _c_star(name: str, q: float, sigma_w2: float, sigma_b2: float, chi1: float) -> float:
    """1 in the ordered phase; else the c map's fixed point below 1, by bisection on c_map(c) − c."""
    if chi1 <= 1.0 + CRITICAL_TOL:
        return 1.0
    lo, hi = -1.0, 1.0 - 1e-12
    if float(c_map(name, [lo], q, sigma_w2, sigma_b2)[0]) - lo <= 0:
        return -1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if float(c_map(name, [mid], q, sigma_w2, sigma_b2)[0]) - mid > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _depth_scale(slope: float) -> float:
    """−1/ln(slope): ∞ at slope 1 (criticality), 0 where nothing survives one layer, NaN for a
    slope above 1 (a perturbation that grows has no decay length)."""
    if slope <= 0.0:
        return 0.0
    if abs(math.log(slope)) < 1e-12:
        return math.inf
    return -1.0 / math.log(slope) if slope < 1.0 else math.nan


@dataclass(frozen=True)
class SignalPropagation:
    """The mean-field quantities of one (activation, σ_w², σ_b²); see the module docstring."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float  # the variance fixed point (0: the signal dies; ∞: it grows without bound)
    c_star: float  # the correlation fixed point (1 in the ordered phase; NaN where q* is ∞, as below)
    chi1: float  # σ_w² E[φ′²] at q*: per-layer growth of gradients and of small perturbations
    chi_c: float  # the c map's slope at c*
    xi_q: float  # depth scale of the variance's approach to q* (NaN where the q map's slope is above 1)
    xi_c: float  # depth scale of the correlation's approach to c* (∞ at criticality)
    phase: str  # "ordered" (χ₁ < 1), "chaotic" (χ₁ > 1) or "critical" (|χ₁ − 1| ≤ 1e-3)

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()} | {
            "q_star_infinite": math.isinf(self.q_star), "xi_c_infinite": math.isinf(self.xi_c)}

    def _repr_html_(self) -> str:
        from .._html import signal_html

        return signal_html(self)


def signal(activation: str, sigma_w2: float, sigma_b2: float = 0.0) -> SignalPropagation:
    """Mean-field signal propagation through a deep net of ``activation`` with weights of
    variance σ_w²/fan_in and biases of variance σ_b²: q*, c*, χ₁, ξ_q, ξ_c and the phase
    (remembered per arguments: a tenth of a second each)."""
    return _signal(*_check(activation, sigma_w2, sigma_b2))


@lru_cache(maxsize=1024)
def _signal(name: str, sigma_w2: float, sigma_b2: float) -> SignalPropagation:
    """``signal`` for a checked name."""
    q = _q_star(name, sigma_w2, sigma_b2)
    at = max(q, Q_TINY) if math.isfinite(q) else float(Q_GRID[-1])  # a dying or exploding signal: its limit
    qt = torch.tensor([at], dtype=torch.float64)
    chi1 = float(sigma_w2 * second_moments(name, qt)[1][0])
    phase = "critical" if abs(chi1 - 1.0) <= CRITICAL_TOL else ("ordered" if chi1 < 1.0 else "chaotic")
    if math.isinf(q):  # no fixed point to linearise around: χ₁ is the large-variance limit, the rest undefined
        return SignalPropagation(name, float(sigma_w2), float(sigma_b2), q, math.nan, chi1, math.nan, math.nan, math.nan, phase)
    c = _c_star(name, at, sigma_w2, sigma_b2, chi1)
    if c < 1.0:
        chi_c = float(sigma_w2 * pair_expectations(name, qt, qt, torch.tensor([[c * at]], dtype=torch.float64))[1][0, 0])
    else:
        chi_c = chi1
    h = 1e-4 * at
    slope = float((q_map(name, [at + h], sigma_w2, sigma_b2)[0] - q_map(name, [max(at - h, 0.0)], sigma_w2, sigma_b2)[0])
                  / (at + h - max(at - h, 0.0)))
    return SignalPropagation(name, float(sigma_w2), float(sigma_b2), q, c, chi1, chi_c, _depth_scale(slope),
                             math.inf if phase == "critical" else _depth_scale(chi_c), phase)


def critical_sigma_w2(activation: str, sigma_b2: float = 0.0) -> float:
    """The weight variance σ_w² at which χ₁ = 1 on the fixed point q* (the edge of chaos), by
    bisection in log σ_w² over [1e-3, 1e3] (a few seconds; remembered per activation and σ_b²).
    ValueError where there is none with a finite q*: an unbounded activation whose q* diverges
    before χ₁ reaches 1, or χ₁ never crossing 1."""
    name, _, sigma_b2 = _check(activation, 1.0, sigma_b2)
    return _critical(name, sigma_b2)


def _log_root(f, lo: float, hi: float, f_lo: float, f_hi: float, rtol: float = 1e-13) -> float:
    """The root of a monotone increasing f between lo and hi (f_lo < 0 < f_hi), by the Illinois
    variant of regula falsi in log x: a dozen evaluations where bisection needs sixty."""
    a, b = math.log(lo), math.log(hi)
    side = 0
    for _ in range(100):
        t = (a * f_hi - b * f_lo) / (f_hi - f_lo)
        ft = f(math.exp(t))
        if ft == 0.0 or b - a < rtol:
            return math.exp(t)
        if ft < 0:
            a, f_lo = t, ft
            f_hi = f_hi / 2 if side == -1 else f_hi  # the same end kept twice: halve the other's weight
            side = -1
        else:
            b, f_hi = t, ft
            f_lo = f_lo / 2 if side == 1 else f_lo
            side = 1
        if abs(ft) < 1e-15:
            return math.exp(t)
    return math.exp((a + b) / 2)


@lru_cache(maxsize=256)
def _critical(name: str, sigma_b2: float) -> float:
    """``critical_sigma_w2`` for a checked name, remembered."""

    def chi(w2: float) -> tuple[float, float]:
        q = _q_star(name, w2, sigma_b2)
        at = max(q, Q_TINY) if math.isfinite(q) else float(Q_GRID[-1])
        return float(w2 * second_moments(name, torch.tensor([at], dtype=torch.float64))[1][0]), q

    lo, hi = 1e-3, 1e3
    (c_lo, _), (c_hi, _) = chi(lo), chi(hi)
    if not (c_lo < 1.0 < c_hi):
        raise ValueError(f"{name} with σ_b² = {sigma_b2:g}: χ₁ does not cross 1 for σ_w² in [1e-3, 1e3] "
                         f"(χ₁ = {c_lo:.3g} at 1e-3, {c_hi:.3g} at 1e3): no edge of chaos")
    w2 = _log_root(lambda w: math.log(chi(w)[0]), lo, hi, math.log(c_lo), math.log(c_hi))
    q = chi(w2 * (1 - 1e-12))[1]  # just inside the ordered side: relu at σ_b² = 0 keeps every q exactly at 2
    if not math.isfinite(q):
        raise ValueError(f"{name} with σ_b² = {sigma_b2:g}: the variance fixed point q* diverges at χ₁ = 1 "
                         f"(σ_w² ≈ {w2:.4g}): an unbounded activation has no edge of chaos with a finite signal here")
    return w2


S1 = {"gaussian": -1.0, "orthogonal": 0.0}  # the S-transform's first coefficient of W Wᵀ (free probability)


def derivative_moments(activation: str, q: float) -> tuple[float, float]:
    """(μ₁, μ₂) = (E[φ′(√q z)²], E[φ′(√q z)⁴]), z ~ N(0, 1), by the kink-split rule (exact
    step functions for the piecewise activations' derivatives), float64."""
    name = check_elementwise(activation)
    q = check_sigma("q", q, zero_ok=False)
    kinks = torch.tensor(KINKS.get(name, ()), dtype=torch.float64)
    z, w = normal_rule(kinks[None, :] / math.sqrt(q) if kinks.numel() else None, min(0.25, 1.0 / math.sqrt(q)))
    d = act_and_deriv(activations.get(name).fn, math.sqrt(q) * z.reshape(-1), True)[1]
    d2 = d.square()
    w = w.reshape(-1)
    return float((d2 * w).sum()), float((d2.square() * w).sum())


def jacobian_variance(activation: str, depth: int, sigma_b2: float = 0.0, *, dist: str = "gaussian",
                      sigma_w2: float | None = None) -> float:
    """The predicted variance of the eigenvalues of J Jᵀ for a net of ``depth`` layers at the
    edge of chaos (σ_w² = ``critical_sigma_w2`` unless given), weights ``dist`` "gaussian" or
    "orthogonal": L (μ₂/μ₁² − 1 − s₁) at q* (see the module docstring). Valid where χ₁ = 1."""
    if dist not in S1:
        raise ValueError(f"dist: expected one of {', '.join(S1)}, got {dist!r}")
    depth = check_depth(depth, least=1, what="the number of layers")
    name = check_elementwise(activation)
    w2 = critical_sigma_w2(name, sigma_b2) if sigma_w2 is None else check_sigma("sigma_w2", sigma_w2, zero_ok=False)
    q = signal(name, w2, sigma_b2).q_star
    at = max(q, Q_TINY) if math.isfinite(q) else 1.0  # relu at σ_b² = 0: every q is a fixed point, φ′ ignores it
    mu1, mu2 = derivative_moments(name, at)
    return depth * (mu2 / mu1**2 - 1.0 - S1[dist])
