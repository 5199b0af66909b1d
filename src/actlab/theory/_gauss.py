"""Gaussian expectations of an activation: E[φ(u)φ(v)] and E[φ′(u)φ′(v)], (u, v) ~ N(0, Σ).

The one engine of actlab's infinite-width theory. A pair has variances q₁, q₂ and correlation
c = k₁₂/√(q₁q₂), clipped to [−1, 1] (rounding must not make a NaN at depth 100).

Closed forms where they exist (quadrature is poor at kinks), with θ = arccos c:
- linear:     E[φφ] = k₁₂,  E[φ′φ′] = 1
- relu:       √(q₁q₂)(sin θ + (π − θ) cos θ)/2π,  (π − θ)/2π            (Cho & Saul 2009)
- leaky_relu: φ = a·x + (1 − a)·relu(x):  a·k₁₂ + (1 − a)²·E_relu,  a + (1 − a)²(π − θ)/2π
- abs:        the same with a = −1
- sin:        e^{−(q₁+q₂)/2} sinh k₁₂,  e^{−(q₁+q₂)/2} cosh k₁₂   (as halves of e^{±k₁₂−(q₁+q₂)/2})
- square:     q₁q₂ + 2k₁₂²,  4k₁₂
- gaussian:   φ = e^{−x²}: 1/√D,  4k₁₂/D^{3/2},  D = (1 + 2q₁)(1 + 2q₂) − 4k₁₂²

Every other activation by Mehler's formula: with h_k = He_k/√k! the orthonormal Hermite
polynomials and a_k(q) = E[φ(√q z) h_k(z)],

    E[φ(u)φ(v)] = Σ_k a_k(q₁) a_k(q₂) c^k.

The coefficients are one-dimensional integrals per input (``_rules``: composite Gauss–Legendre,
split at the activation's kinks; in closed form for the piecewise polynomials, whose kinks move
with q), and the double sum is K multiply-adds per pair. The truncation after K terms is bounded
per pair, by Cauchy–Schwarz and Parseval, by |c|^K·√(t(q₁)t(q₂)), t(q) = E[φ(√q z)²] − Σ_{k<K}
a_k(q)²: each pair gets the fewest of ``TIERS`` terms whose bound is within ``TOL`` of
√(E[φ(u)²]E[φ(v)²]). Pairs no tier clears (sharp activations at large variance, correlations near
±1 with a kink) are integrated directly: in one dimension for the piecewise activations
(``PIECES``: the inner expectation in closed form), in two for the others. The same for φ′.
Float64 throughout.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import torch

from .. import activations
from ..train import MAXOUT, act_and_deriv
from ._rules import HALF_WIDTH, graded, normal_rule

__all__ = ["CLOSED_FORMS", "KINKS", "Moments", "check_elementwise", "moments", "pair_expectations", "second_moments"]

TOL = 1e-7  # a pair's truncation bound, relative to √(E[φ(u)²]E[φ(v)²]): 1,000 times below the 1e-4 promised
K_MAX = 256  # Hermite terms at most; pairs that need more go to the direct rule
TIERS = (16, 32, 64, 128, K_MAX)  # numbers of terms a pair may get (the dense sum: the one 95 % of pairs allow)
LEAKY_SLOPE = 0.01  # torch's and actlab's leaky_relu
SPREAD = torch.tensor([-30.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0, 30.0], dtype=torch.float64)  # in units of r/|c|
PIECE_SPREAD = torch.tensor([-12.0, -3.0, 0.0, 3.0, 12.0], dtype=torch.float64)  # the same for the one-dimensional rule
Q_FLOOR = 1e-300  # the least variance the series and rules see (a zero input's variance without bias is 0)
CHUNK = 1 << 22  # values of the direct rule evaluated at once (32 MiB of float64)

# where φ′ or φ″ jumps, in u: the rules put a panel edge there
KINKS: dict[str, tuple[float, ...]] = {
    "relu": (0.0,), "leaky_relu": (0.0,), "abs": (0.0,), "elu": (0.0,), "selu": (0.0,), "celu": (0.0,),
    "softsign": (0.0,), "hardtanh": (-1.0, 1.0), "relu6": (0.0, 6.0), "hardsigmoid": (-3.0, 3.0),
    "hardswish": (-3.0, 3.0),
}


_ZERO, _X, _ONE = (0.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0)
_L, _A = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717  # selu's λ and α
# piecewise activations: (breaks, φ's pieces, φ′'s pieces), each piece (p₀, p₁, p₂, e) meaning
# p₀ + p₁x + p₂x² + e·eˣ between consecutive breaks: their Gaussian smoothing E[g(m + sξ)] is
# closed (``_smoothed``), so the direct rule needs one dimension, not two
PIECES: dict[str, tuple[tuple[float, ...], tuple, tuple]] = {
    "relu": ((0.0,), (_ZERO, _X), (_ZERO, _ONE)),
    "leaky_relu": ((0.0,), ((0.0, LEAKY_SLOPE, 0.0, 0.0), _X), ((LEAKY_SLOPE, 0.0, 0.0, 0.0), _ONE)),
    "abs": ((0.0,), ((0.0, -1.0, 0.0, 0.0), _X), ((-1.0, 0.0, 0.0, 0.0), _ONE)),
    "elu": ((0.0,), ((-1.0, 0.0, 0.0, 1.0), _X), ((0.0, 0.0, 0.0, 1.0), _ONE)),
    "celu": ((0.0,), ((-1.0, 0.0, 0.0, 1.0), _X), ((0.0, 0.0, 0.0, 1.0), _ONE)),
    "selu": ((0.0,), ((-_L * _A, 0.0, 0.0, _L * _A), (0.0, _L, 0.0, 0.0)), ((0.0, 0.0, 0.0, _L * _A), (_L, 0.0, 0.0, 0.0))),
    "hardtanh": ((-1.0, 1.0), ((-1.0, 0.0, 0.0, 0.0), _X, _ONE), (_ZERO, _ONE, _ZERO)),
    "relu6": ((0.0, 6.0), (_ZERO, _X, (6.0, 0.0, 0.0, 0.0)), (_ZERO, _ONE, _ZERO)),
    "hardsigmoid": ((-3.0, 3.0), (_ZERO, (0.5, 1 / 6, 0.0, 0.0), _ONE), (_ZERO, (1 / 6, 0.0, 0.0, 0.0), _ZERO)),
    "hardswish": ((-3.0, 3.0), (_ZERO, (0.0, 0.5, 1 / 6, 0.0), _X), (_ZERO, (0.5, 1 / 3, 0.0, 0.0), _ONE)),
}


def check_elementwise(activation: str) -> str:
    """The registry's canonical name; ValueError for maxout, which is not elementwise."""
    if activation == MAXOUT:
        raise ValueError("maxout is not elementwise (a max over k affine pieces of the whole input): the infinite-width "
                         f"theory needs φ applied to each unit alone; choose one of {', '.join(activations.names())}")
    return activations.resolve(activation)


# ---------------------------------------------------------------------------- closed forms


def _correlation(k11, k22, k12):
    """√(k₁₁k₂₂) and the correlation, clipped to [−1, 1] (0 where a variance is 0)."""
    s = torch.sqrt(k11) * torch.sqrt(k22)  # not √(k₁₁k₂₂): that product overflows from variances of 1e154 on
    c = torch.where((k12 == k11) & (k11 == k22), 1.0, k12 / s)  # an input with itself: 1 exactly, whatever √q·√q rounds to
    if not bool((s > 0).all()):
        c = torch.where(s > 0, c, 0.0)
    return s, c.clamp_(-1.0, 1.0)


def _relu(k11, k22, k12):
    s, c = _correlation(k11, k22, k12)
    d = torch.arccos(c).neg_().add_(math.pi).div_(2 * math.pi)  # (π − θ)/2π
    e = torch.addcmul((1 - c * c).clamp_min_(0.0).sqrt_().div_(2 * math.pi), d, c).mul_(s)  # sin θ = √(1 − c²)
    return e, d


def _leaky(a: float):
    def closed(k11, k22, k12):
        e, d = _relu(k11, k22, k12)
        return a * k12 + (1 - a) ** 2 * e, a + (1 - a) ** 2 * d

    return closed


def _sin(k11, k22, k12):
    # e^{−h}·sinh k and e^{−h}·cosh k, h = (q₁+q₂)/2 ≥ |k|, as halves of e^{±k−h}: no exponent above 0
    h = (k11 + k22) / 2
    up, down = torch.exp(k12 - h), torch.exp(-k12 - h)
    return (up - down) / 2, (up + down) / 2


def _gaussian(k11, k22, k12):
    s, c = _correlation(k11, k22, k12)
    det = (1 + 2 * k11) * (1 + 2 * k22) - 4 * (s * c) ** 2  # ≥ 1 + 2(q₁ + q₂) > 0 for |c| ≤ 1
    return det.rsqrt(), 4 * s * c * det.pow(-1.5)


CLOSED_FORMS = {
    "linear": lambda k11, k22, k12: (k12, torch.ones_like(k12)),
    "relu": _relu,
    "leaky_relu": _leaky(LEAKY_SLOPE),
    "abs": _leaky(-1.0),
    "sin": _sin,
    "square": lambda k11, k22, k12: (k11 * k22 + 2 * k12**2, 4 * k12),
    "gaussian": _gaussian,
}


# ---------------------------------------------------------------------------- one input at a time


@dataclass
class Moments:
    """Per input of variance q: a (n, K) = E[φ(√q z) h_k(z)], ad the same for φ′, and the second
    moments second = E[φ(√q z)²], second_d = E[φ′(√q z)²] (n,)."""

    a: torch.Tensor
    ad: torch.Tensor | None
    second: torch.Tensor
    second_d: torch.Tensor | None

    def tails(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """t(q) after each number of terms: (n, K + 1), column K the tail after K terms."""

        def tail(a, second):
            head = torch.cat([torch.zeros_like(a[:, :1]), (a * a).cumsum(1)], 1)
            return (second[:, None] - head).clamp_min(0.0)

        return tail(self.a, self.second), (None if self.ad is None else tail(self.ad, self.second_d))


def _hermite_basis(z: torch.Tensor, k: int) -> torch.Tensor:
    """(N, k): h_j(z) for j < k at the nodes z (N,), by the three-term recurrence."""
    basis = torch.empty(z.shape[0], k, dtype=torch.float64)
    basis[:, 0], basis[:, 1] = 1.0, z
    for j in range(1, k - 1):
        basis[:, j + 1] = (z * basis[:, j] - math.sqrt(j) * basis[:, j - 1]) / math.sqrt(j + 1)
    return basis


def _hermite_projection(fw: torch.Tensor, z: torch.Tensor, k: int) -> torch.Tensor:
    """(n, k): Σ_nodes fw·h_j(z) for j < k; z shared (N,) or per input (n, N)."""
    out = torch.empty(fw.shape[0], k, dtype=torch.float64)
    if z.ndim == 1:  # one rule for all inputs: the basis once, then a matrix product
        return fw @ _hermite_basis(z, k)
    prev, cur = torch.ones_like(z), z.clone()
    out[:, 0], out[:, 1] = fw.sum(1), (fw * cur).sum(1)
    for j in range(1, k - 1):
        prev, cur = cur, (z * cur - math.sqrt(j) * prev) / math.sqrt(j + 1)
        out[:, j + 1] = (fw * cur).sum(1)
    return out


def _panels(q: torch.Tensor, k: int) -> torch.Tensor:
    """Per variance, the panel width resolving h_{k−1} (wavelength ≈ 2π/√(2k)) and φ(√q z) (scale ≈ 1/√q)."""
    top = min(1.0, 4 * math.pi / math.sqrt(2 * k + 1))
    return (3.0 / q.double().clamp_min(1e-12).sqrt()).clamp(max=top).clamp(min=0.05)


def _panel(q: torch.Tensor, k: int) -> float:
    """One panel width for all of q: the largest variance's."""
    return float(_panels(q.max().reshape(1), k)[0]) if q.numel() else float(_panels(torch.ones(1), k)[0])


def moments(activation: str, q: torch.Tensor, *, want_deriv: bool = True, k: int = K_MAX) -> Moments:
    """Hermite coefficients (up to ``k`` terms) and second moments of φ(√q z) (and φ′) for
    variances q (n,) > 0. Kinks at u = 0 sit at z = 0 for every q: one shared rule, and the
    basis is one matrix product; kinks elsewhere (hardtanh's ±1) move with q: a rule per input."""
    name = check_elementwise(activation)
    fn = activations.get(name).fn
    q = torch.as_tensor(q, dtype=torch.float64).reshape(-1)
    s = torch.sqrt(q)
    kinks = torch.tensor(KINKS.get(name, ()), dtype=torch.float64)
    if kinks.numel() and not bool((kinks == 0).all()):
        z, w = normal_rule(kinks[None, :] / s[:, None], _panel(q, k))
        project = lambda fw: _hermite_projection(fw, z, k)  # noqa: E731
    else:
        panel = _panel(q, k)
        m = math.ceil(2 * HALF_WIDTH / panel)  # the panel count: rules (and their bases) repeat across calls
        # φ(√q z) changes over 3/√q around z = 0: graded panels from there where the panel is wider (a power of 2, to repeat)
        feature = 2.0 ** math.floor(math.log2(3.0 / math.sqrt(max(float(q.max()), 1e-12)))) if q.numel() else 1.0
        z, w, basis = _shared_rule(m, bool(kinks.numel()), k, min(feature, panel))
        project = lambda fw: fw @ basis  # noqa: E731
    f, d = act_and_deriv(fn, s[:, None] * z, want_deriv)
    fw = f * w
    a = project(fw)
    if not want_deriv:
        return Moments(a, None, (f * fw).sum(1), None)
    dw = d * w
    return Moments(a, project(dw), (f * fw).sum(1), (d * dw).sum(1))


@lru_cache(maxsize=32)
def _shared_rule(m: int, kink_at_zero: bool, k: int, feature: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rule of ``m`` panels (split at 0 for a kink there, graded down to ``feature`` around 0)
    and its Hermite basis (N, k), once."""
    panel = 2 * HALF_WIDTH / m
    breaks = graded(torch.zeros(1, dtype=torch.float64), feature, panel)
    z, w = normal_rule(breaks if kink_at_zero or feature < panel else None, panel)
    return z, w, _hermite_basis(z, k)


def _hermite_density(t: torch.Tensor, k: int) -> torch.Tensor:
    """g_j(t) = h_j(t)N(t) for j < k (m, k), N the standard normal density: h's recurrence,
    started from N (it underflows harmlessly far out; t = ±40 stands for ±∞)."""
    out = torch.empty(t.shape[0], k, dtype=torch.float64)
    out[:, 0] = torch.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    out[:, 1] = t * out[:, 0]
    for j in range(1, k - 1):
        out[:, j + 1] = (t * out[:, j] - math.sqrt(j) * out[:, j - 1]) / math.sqrt(j + 1)
    return out


def _truncated_powers(lo: torch.Tensor, hi: torch.Tensor) -> list[torch.Tensor]:
    """M_j = ∫_lo^hi z^j N(z) dz for j ≤ 4: M_j = (j − 1)M_{j−2} + lo^{j−1}N(lo) − hi^{j−1}N(hi)."""
    nl, nh = torch.exp(-lo * lo / 2) / math.sqrt(2 * math.pi), torch.exp(-hi * hi / 2) / math.sqrt(2 * math.pi)
    m = [torch.special.ndtr(hi) - torch.special.ndtr(lo), nl - nh]
    for j in range(2, 5):
        m.append((j - 1) * m[j - 2] + lo ** (j - 1) * nl - hi ** (j - 1) * nh)
    return m


def _polynomial_pieces(q: torch.Tensor, ends: torch.Tensor, g: torch.Tensor, pieces, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hermite coefficients (n, k) and E[φ(√q z)²] (n,) for φ polynomial of degree ≤ 2 on each
    piece, exactly. On a piece (lo, hi): I_0 = Φ(hi) − Φ(lo), I_j = (g_{j−1}(lo) − g_{j−1}(hi))/√j
    since He_j N = −(He_{j−1} N)′, and z h_j = √(j+1) h_{j+1} + √j h_{j−1} turns ∫ zᵖ h_j N into
    I's. ``ends`` (b + 2, n) are the pieces' edges in z (±40 for ±∞), ``g`` (b + 2, n, k + 2) their g_j."""
    s = torch.sqrt(q)
    a = torch.zeros(q.shape[0], k, dtype=torch.float64)
    second = torch.zeros_like(q)
    j = torch.arange(k, dtype=torch.float64)
    root = torch.arange(1, k + 2, dtype=torch.float64).sqrt()
    for e, (p0, p1, p2, _) in enumerate(pieces):
        if p0 == p1 == p2 == 0.0:
            continue
        i = torch.empty(q.shape[0], k + 2, dtype=torch.float64)
        i[:, 0] = torch.special.ndtr(ends[e + 1]) - torch.special.ndtr(ends[e])
        i[:, 1:] = (g[e][:, :-1] - g[e + 1][:, :-1]) / root
        lower = torch.cat([torch.zeros_like(i[:, :1]), i[:, : k - 1]], 1)  # I_{j−1}
        zi = (j + 1).sqrt() * i[:, 1:k + 1] + j.sqrt() * lower  # ∫ z h_j N
        lower2 = torch.cat([torch.zeros_like(i[:, :2]), i[:, : k - 2]], 1)  # I_{j−2}
        zzi = ((j + 1) * (j + 2)).sqrt() * i[:, 2:k + 2] + (2 * j + 1) * i[:, :k] + (j * (j - 1)).clamp_min(0).sqrt() * lower2
        a += p0 * i[:, :k] + p1 * s[:, None] * zi + p2 * q[:, None] * zzi
        m = _truncated_powers(ends[e], ends[e + 1])  # (p0 + p1 s z + p2 q z²)² integrated over the piece
        c = [p0 * p0, 2 * p0 * p1 * s, p1 * p1 * q + 2 * p0 * p2 * q, 2 * p1 * p2 * q * s, p2 * p2 * q * q]
        second += sum(cj * mj for cj, mj in zip(c, m))
    return a, second


def _piecewise_moments(name: str, q: torch.Tensor, want_deriv: bool, k: int = K_MAX) -> Moments:
    """``moments`` in closed form for an activation polynomial on each piece (hardtanh, relu6,
    hardsigmoid, hardswish, relu, leaky_relu, abs): no rule at all, however its kinks move.
    The edges' g_j are computed once, for φ and φ′ and every piece."""
    q = torch.as_tensor(q, dtype=torch.float64).reshape(-1)
    breaks, pieces, dpieces = PIECES[name]
    s = torch.sqrt(q)
    ends = torch.stack([torch.full_like(q, -40.0), *(b / s for b in breaks), torch.full_like(q, 40.0)]).clamp(-40.0, 40.0)
    g = _hermite_density(ends.reshape(-1), k + 2).reshape(ends.shape[0], q.shape[0], k + 2)
    a, second = _polynomial_pieces(q, ends, g, pieces, k)
    if not want_deriv:
        return Moments(a, None, second, None)
    ad, second_d = _polynomial_pieces(q, ends, g, dpieces, k)
    return Moments(a, ad, second, second_d)


def _polynomial(name: str) -> bool:
    return name in PIECES and all(p[3] == 0.0 for p in (*PIECES[name][1], *PIECES[name][2]))


_RECENT: dict[tuple, Moments] = {}  # the last few coefficient sets: a deep recursion at its fixed q reuses them
_RECENT_LOCK = threading.Lock()


def _moments_adaptive(name: str, q: torch.Tensor, want_deriv: bool) -> Moments:
    """The coefficients by the cheapest exact route: in closed form for the piecewise
    polynomials (whose kinks move with q), else by ``moments`` on one shared rule. A variance of 0
    (a zero input without bias) is evaluated at Q_FLOOR: φ(0) and the mean of φ′ across a kink."""
    q = q.clamp_min(Q_FLOOR)
    key = (name, want_deriv, q.numpy().tobytes())
    with _RECENT_LOCK:
        found = _RECENT.get(key)
    if found is not None:
        return found
    m = _piecewise_moments(name, q, want_deriv) if _polynomial(name) else moments(name, q, want_deriv=want_deriv)
    with _RECENT_LOCK:  # the playground's server threads share it
        if len(_RECENT) >= 8:
            del _RECENT[next(iter(_RECENT))]
        _RECENT[key] = m
    return m


def second_moments(name: str, q: torch.Tensor, method: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """(E[φ(√q z)²], E[φ′(√q z)²]) for each variance in q (n,): the closed form where there is one
    (``method`` "auto"), else the two-term ``moments`` by the cheapest exact route."""
    if method == "auto" and name in CLOSED_FORMS:
        e, d = CLOSED_FORMS[name](q, q, q)
        return e, d.expand_as(e)
    q = q.clamp_min(Q_FLOOR)
    if _polynomial(name):
        m = _piecewise_moments(name, q, True, k=2)
        return m.second, m.second_d
    # the rule's panel follows the largest variance: variances of one panel width (a power of 2) share a rule,
    # so that a grid over many decades does not evaluate its small variances on the largest one's fine panels
    e, d = torch.empty_like(q), torch.empty_like(q)
    group = torch.ceil(torch.log2(1.0 / _panels(q, 2)))
    for key in torch.unique(group):
        sel = group == key
        m = moments(name, q[sel], want_deriv=True, k=2)
        e[sel], d[sel] = m.second, m.second_d
    return e, d


# ---------------------------------------------------------------------------- pairs


def _mehler(a1: torch.Tensor, a2: torch.Tensor, c: torch.Tensor, k: int) -> torch.Tensor:
    """Σ_{j<k} a1[:, j] a2[:, j] c^j for the (n1, n2) grid of pairs, by Horner's rule."""
    acc = torch.outer(a1[:, k - 1], a2[:, k - 1])
    for j in range(k - 2, -1, -1):
        acc.mul_(c).addr_(a1[:, j], a2[:, j])
    return acc


def _direct(fn, kinks: torch.Tensor, q1, q2, c, want_deriv: bool, panel: float):
    """Both expectations for flat pairs (P,) by the two-dimensional rule: u = √q₁ z₁,
    v = √q₂(c z₁ + r z₂), r = √(1 − c²), the inner integral over z₂ for each node of z₁."""
    s1, s2 = torch.sqrt(q1), torch.sqrt(q2)
    r = torch.sqrt((1 - c * c).clamp_min(0.0))
    if kinks.numel():
        # v's kink seen from z₁ is smoothed over a width r/|c|: panels of that width around it
        centre = (kinks / (c * s2)[:, None])[..., None] + (r / c.abs())[:, None, None] * SPREAD
        outer_breaks = torch.cat([kinks / s1[:, None], centre.flatten(1)], 1)
        z1, w1 = normal_rule(outer_breaks, panel)  # (P, N1)
        z2, w2 = normal_rule((kinks / s2[:, None, None] - c[:, None, None] * z1[..., None]) / r[:, None, None], panel)
    elif bool((3.0 / s1 < panel).any() or (3.0 / (s2 * r) < panel).any()):
        # a smooth φ still changes over 3/√q around u = 0: graded panels there for φ(u) (in z₁), for E[φ(v) | z₁]
        # (a step of width (r + 3/√q₂)/|c| in z₁) and for φ(v) (around z₂ = −c z₁/r, width 3/(√q₂ r))
        zero = torch.zeros(len(c), 1, dtype=torch.float64)
        outer = torch.cat([graded(zero, 3.0 / s1, panel), graded(zero, (r + 3.0 / s2) / c.abs().clamp_min(1e-300), panel)], 1)
        z1, w1 = normal_rule(outer, panel)
        z2, w2 = normal_rule(graded((-c[:, None] * z1 / r.clamp_min(1e-300)[:, None])[..., None],
                                    (3.0 / (s2 * r).clamp_min(1e-300))[:, None], panel), panel)
    else:
        z1, w1 = normal_rule(None, panel)
        z2, w2 = normal_rule(None, panel)
        z1, w1 = z1.expand(len(c), -1), w1.expand(len(c), -1)
    fu, du = act_and_deriv(fn, s1[:, None] * z1, want_deriv)
    fv, dv = act_and_deriv(fn, s2[:, None, None] * (c[:, None, None] * z1[..., None] + r[:, None, None] * z2), want_deriv)
    e = (fu * w1 * (fv * w2).sum(-1)).sum(-1)
    return e, ((du * w1 * (dv * w2).sum(-1)).sum(-1) if want_deriv else None)


def _smoothed(breaks: tuple[float, ...], pieces, m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """E[g(m + sξ)], ξ ~ N(0, 1), for g given by ``pieces`` between ``breaks``; s ≥ 0. With
    ξ ∈ (a, b) on a piece: E[1] = Φ(b) − Φ(a), E[ξ] = φ(a) − φ(b), E[ξ²] = E[1] + aφ(a) − bφ(b),
    E[e^y] = e^{m + s²/2}(Φ(b − s) − Φ(a − s)), the last in logarithms (no overflow)."""
    s = s.clamp_min(1e-300)
    t = [((k - m) / s).clamp(-40.0, 40.0) for k in breaks]  # each break in units of ξ, once
    cdf = [torch.zeros_like(m), *(torch.special.ndtr(x) for x in t), torch.ones_like(m)]
    pdf = [torch.zeros_like(m), *(torch.exp(-x * x / 2) / math.sqrt(2 * math.pi) for x in t), torch.zeros_like(m)]
    tpdf = [torch.zeros_like(m), *(x * p for x, p in zip(t, pdf[1:-1])), torch.zeros_like(m)]
    edges = [-math.inf, *breaks, math.inf]
    out = torch.zeros_like(m)
    for j, (p0, p1, p2, e) in enumerate(pieces):
        if p0 or p1 or p2:
            e0, e1 = cdf[j + 1] - cdf[j], pdf[j] - pdf[j + 1]
            out += (p0 + p1 * m + p2 * m * m) * e0 + (p1 + 2 * p2 * m) * s * e1
            if p2:
                out += p2 * s * s * (e0 + tpdf[j] - tpdf[j + 1])
        if e:
            g = m + s * s / 2
            lo, hi = edges[j], edges[j + 1]
            # unclamped: at a large s both terms of g + log Φ(·) are huge and only their sum is in range
            up = torch.exp(g + torch.special.log_ndtr((hi - m) / s - s)) if hi < math.inf else torch.exp(g)
            down = torch.exp(g + torch.special.log_ndtr((lo - m) / s - s)) if lo > -math.inf else 0.0
            out += e * (up - down)
    return out


def _direct_pieces(fn, name: str, q1, q2, c, which: int) -> torch.Tensor:
    """One expectation for flat pairs (P,) of a piecewise activation: E over z₁ of
    φ(√q₁ z₁)·E[φ(v) | z₁], the inner expectation in closed form (``_smoothed``); which = 1: φ′."""
    breaks, pieces, dpieces = PIECES[name]
    kinks = torch.tensor(breaks, dtype=torch.float64)
    s1, s2 = torch.sqrt(q1), torch.sqrt(q2)
    r = torch.sqrt((1 - c * c).clamp_min(0.0))
    centre = (kinks / (c * s2)[:, None])[..., None] + (r / c.abs())[:, None, None] * PIECE_SPREAD
    panel = max(0.25, min(3.0, 4.0 / math.sqrt(max(float(q1.max()), 1e-12))))  # φ(√q₁ z₁) has scale 1/√q₁
    z1, w1 = normal_rule(torch.cat([kinks / s1[:, None], centre.flatten(1)], 1), panel)
    fu, du = act_and_deriv(fn, s1[:, None] * z1, which == 1)
    inner = _smoothed(breaks, dpieces if which == 1 else pieces, (s2 * c)[:, None] * z1, (s2 * r)[:, None])
    return ((du if which == 1 else fu) * w1 * inner).sum(-1)


def _direct_panel(qmax: float) -> float:
    """Panel width for φ(√q z) at the largest variance of a chunk (scale ≈ 1/√q)."""
    return max(0.25, min(2.0, 3.0 / math.sqrt(max(qmax, 1e-12))))


def _direct_chunked(fn, kinks, q1, q2, c, want_deriv):
    """``_direct`` over pairs sorted by their larger variance, in chunks of ≤ CHUNK values, each
    with the panel its own largest variance needs."""
    qmax = torch.maximum(q1, q2)
    order = qmax.argsort()
    e, d = torch.empty_like(c), (torch.empty_like(c) if want_deriv else None)
    start = 0
    while start < len(c):
        panel = _direct_panel(float(qmax[order[min(len(c) - 1, start + 63)]]))  # a first guess at this chunk's size
        sharp = 2 * max(1, math.ceil(math.log2(panel * math.sqrt(float(qmax[order[-1]])) * 1e3))) if not kinks.numel() else 0
        nodes = (math.ceil(2 * HALF_WIDTH / panel) + (2 + len(SPREAD)) * kinks.numel() + 3 * sharp) * 12
        step = max(1, CHUNK // (nodes * nodes))
        idx = order[start:start + step]
        panel = _direct_panel(float(qmax[idx].max()))
        part = _direct(fn, kinks, q1[idx], q2[idx], c[idx], want_deriv, panel)
        e[idx] = part[0]
        if want_deriv:
            d[idx] = part[1]
        start += step
    return e, d


def _tiers_needed(t1, t2, sec1, sec2, c, terms: int) -> tuple[torch.Tensor, list[int]]:
    """(n1, n2): the index into ``tiers`` of the fewest terms whose bound |c|^K √(t₁t₂) is within
    TOL·√(sec₁sec₂) for each pair; len(tiers) where none is (the direct rule's pairs)."""
    tiers = [k for k in TIERS if k < terms] + [terms]
    scale, ac = TOL * torch.sqrt(torch.outer(sec1, sec2)), c.abs()
    need = torch.full(c.shape, len(tiers), dtype=torch.int64)
    for idx in range(len(tiers) - 1, -1, -1):
        k = tiers[idx]
        ok = ac.pow(k) * torch.sqrt(torch.outer(t1[:, k], t2[:, k])) <= scale
        need = torch.where(ok, idx, need)
    return need, tiers


def _mehler_pairs(a1, a2, i, j, c, lo: int, hi: int) -> torch.Tensor:
    """Σ_{lo ≤ m < hi} a1[i, m] a2[j, m] c^m for flat pairs (P,)."""
    acc = torch.zeros_like(c)
    for m in range(hi - 1, lo - 1, -1):
        acc.mul_(c).add_(a1[i, m] * a2[j, m])
    return acc * c.pow(lo)


def _series(a1, a2, t1, t2, sec1, sec2, c, q1, q2) -> tuple[torch.Tensor, torch.Tensor]:
    """One expectation over the grid of pairs by Mehler's sum — over all pairs at the tier 95 %
    of them allow, the remaining terms only for the pairs that need them — and the mask of pairs
    no tier's bound clears (left for the direct rule)."""
    need, tiers = _tiers_needed(t1, t2, sec1, sec2, c, min(a1.shape[1], a2.shape[1]))
    same = (c == 1.0) & (q1[:, None] == q2[None, :])  # the same input twice: E[φ(u)²] exactly
    need = torch.where(same, 0, need)
    counts = torch.bincount(need.flatten(), minlength=len(tiers) + 1).cumsum(0)
    dense = next(idx for idx in range(len(tiers)) if counts[idx] >= 0.95 * need.numel() or idx == len(tiers) - 1)
    out = _mehler(a1, a2, c, tiers[dense])
    more = ((need > dense) & (need < len(tiers))).nonzero(as_tuple=True)
    if len(more[0]):
        i, j = more
        top = tiers[int(need[i, j].max())]
        for s in range(0, len(i), 1 << 16):
            ii, jj = i[s:s + (1 << 16)], j[s:s + (1 << 16)]
            out[ii, jj] += _mehler_pairs(a1, a2, ii, jj, c[ii, jj], tiers[dense], top)
    if bool(same.any()):
        out = torch.where(same, sec1[:, None].expand_as(out), out)
    return out, need == len(tiers)


def _fill_direct(name: str, q1, q2, c, e, bad_e, d, bad_d) -> None:
    """The direct rule, in place, on the pairs the series left: one dimension for a piecewise
    activation (each expectation alone), else two, once for both expectations' pairs."""
    fn = activations.get(name).fn
    for out, bad, which in ((e, bad_e, 0), (d, bad_d, 1)):
        if out is None or name not in PIECES or not bool(bad.any()):
            continue
        i, j = bad.nonzero(as_tuple=True)
        out[i, j] = torch.cat([_direct_pieces(fn, name, q1[i[a:a + 4096]], q2[j[a:a + 4096]], c[i[a:a + 4096], j[a:a + 4096]], which)
                               for a in range(0, len(i), 4096)])
    union = bad_e if d is None else bad_e | bad_d
    if name in PIECES or not bool(union.any()):
        return
    i, j = union.nonzero(as_tuple=True)
    kinks = torch.tensor(KINKS.get(name, ()), dtype=torch.float64)
    de, dd = _direct_chunked(fn, kinks, q1[i], q2[j], c[i, j], d is not None)
    e[i[bad_e[i, j]], j[bad_e[i, j]]] = de[bad_e[i, j]]
    if d is not None:
        d[i[bad_d[i, j]], j[bad_d[i, j]]] = dd[bad_d[i, j]]


def pair_expectations(activation: str, q1: torch.Tensor, q2: torch.Tensor, k12: torch.Tensor, *,
                      want_deriv: bool = True, method: str = "auto"):
    """(E[φ(u)φ(v)], E[φ′(u)φ′(v)] or None) on the grid of pairs (n1, n2), where u has variance
    q1[i], v has q2[j] and their covariance is k12[i, j]; float64. ``method``: "auto" (closed
    form where there is one) or "quadrature" (always the series and rule, to test closed forms)."""
    name = check_elementwise(activation)
    q1, q2, k12 = (torch.as_tensor(t, dtype=torch.float64) for t in (q1, q2, k12))
    if method not in ("auto", "quadrature"):
        raise ValueError(f"method: expected 'auto' or 'quadrature', got {method!r}")
    if method == "auto" and name in CLOSED_FORMS:
        e, d = CLOSED_FORMS[name](q1[:, None], q2[None, :], k12)
        return e, (d.expand_as(e).clone() if want_deriv else None)
    c = _correlation(q1[:, None], q2[None, :], k12)[1]
    m1 = _moments_adaptive(name, q1, want_deriv)
    m2 = m1 if q2 is q1 or torch.equal(q1, q2) else _moments_adaptive(name, q2, want_deriv)
    (t1, td1), (t2, td2) = m1.tails(), m2.tails()
    e, bad_e = _series(m1.a, m2.a, t1, t2, m1.second, m2.second, c, q1, q2)
    d, bad_d = _series(m1.ad, m2.ad, td1, td2, m1.second_d, m2.second_d, c, q1, q2) if want_deriv else (None, None)
    _fill_direct(name, q1, q2, c, e, bad_e, d, bad_d)
    return e, d
