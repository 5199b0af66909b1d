"""Gaussian expectations by Mehler's formula: with h_k = He_k/√k! the orthonormal Hermite
polynomials and a_k(q) = E[φ(√q z) h_k(z)],

    E[φ(u)φ(v)] = Σ_k a_k(q₁) a_k(q₂) c^k.

The coefficients are one-dimensional integrals per input (``_rules``: composite Gauss–Legendre,
split at the activation's kinks; in closed form for the piecewise polynomials, whose kinks move
with q), and the double sum is K multiply-adds per pair. The truncation after K terms is bounded
per pair, by Cauchy–Schwarz and Parseval, by |c|^K·√(t(q₁)t(q₂)), t(q) = E[φ(√q z)²] − Σ_{k<K}
a_k(q)²: each pair gets the fewest of ``TIERS`` terms whose bound is within ``TOL`` of
√(E[φ(u)²]E[φ(v)²]); the pairs no tier clears are left to ``_direct``. The same for φ′.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import torch

from .. import activations
from ..activations import act_and_deriv
from ._pieces import KINKS, PIECES, polynomial
from ._rules import HALF_WIDTH, graded, normal_rule

__all__ = ["Moments", "moments", "moments_adaptive", "piecewise_moments", "series", "panels", "tiers_needed",
           "mehler_pairs", "series_flat", "series_broadcast", "TOL", "K_MAX", "TIERS", "Q_FLOOR"]

TOL = 1e-7  # a pair's truncation bound, relative to √(E[φ(u)²]E[φ(v)²]): 1,000 times below the 1e-4 promised
K_MAX = 256  # Hermite terms at most; pairs that need more go to the direct rule
TIERS = (16, 32, 64, 128, K_MAX)  # numbers of terms a pair may get (the dense sum: the one 95 % of pairs allow)
Q_FLOOR = 1e-300  # the least variance the series and rules see (a zero input's variance without bias is 0)

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


def panels(q: torch.Tensor, k: int) -> torch.Tensor:
    """Per variance, the panel width resolving h_{k−1} (wavelength ≈ 2π/√(2k)) and φ(√q z) (scale ≈ 1/√q)."""
    top = min(1.0, 4 * math.pi / math.sqrt(2 * k + 1))
    return (3.0 / q.double().clamp_min(1e-12).sqrt()).clamp(max=top).clamp(min=0.05)


def _panel(q: torch.Tensor, k: int) -> float:
    """One panel width for all of q: the largest variance's."""
    return float(panels(q.max().reshape(1), k)[0]) if q.numel() else float(panels(torch.ones(1), k)[0])


def moments(activation: str, q: torch.Tensor, *, want_deriv: bool = True, k: int = K_MAX) -> Moments:
    """Hermite coefficients (up to ``k`` terms) and second moments of φ(√q z) (and φ′) for
    variances q (n,) > 0. Kinks at u = 0 sit at z = 0 for every q: one shared rule, and the
    basis is one matrix product; kinks elsewhere (hardtanh's ±1) move with q: a rule per input."""
    name = activations.resolve(activation)
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


def piecewise_moments(name: str, q: torch.Tensor, want_deriv: bool, k: int = K_MAX) -> Moments:
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




_RECENT: dict[tuple, Moments] = {}  # the last few coefficient sets: a deep recursion at its fixed q reuses them
_RECENT_LOCK = threading.Lock()


def moments_adaptive(name: str, q: torch.Tensor, want_deriv: bool) -> Moments:
    """The coefficients by the cheapest exact route: in closed form for the piecewise
    polynomials (whose kinks move with q), else by ``moments`` on one shared rule. A variance of 0
    (a zero input without bias) is evaluated at Q_FLOOR: φ(0) and the mean of φ′ across a kink."""
    q = q.clamp_min(Q_FLOOR)
    key = (name, want_deriv, q.numpy().tobytes())
    with _RECENT_LOCK:
        found = _RECENT.get(key)
    if found is not None:
        return found
    m = piecewise_moments(name, q, want_deriv) if polynomial(name) else moments(name, q, want_deriv=want_deriv)
    with _RECENT_LOCK:  # the playground's server threads share it
        if len(_RECENT) >= 8:
            del _RECENT[next(iter(_RECENT))]
        _RECENT[key] = m
    return m


def _mehler(a1: torch.Tensor, a2: torch.Tensor, c: torch.Tensor, k: int) -> torch.Tensor:
    """Σ_{j<k} a1[:, j] a2[:, j] c^j for the (n1, n2) grid of pairs, by Horner's rule."""
    acc = torch.outer(a1[:, k - 1], a2[:, k - 1])
    for j in range(k - 2, -1, -1):
        acc.mul_(c).addr_(a1[:, j], a2[:, j])
    return acc


def tiers_needed(t1, t2, sec1, sec2, c, terms: int) -> tuple[torch.Tensor, list[int]]:
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


def mehler_pairs(a1, a2, i, j, c, lo: int, hi: int) -> torch.Tensor:
    """Σ_{lo ≤ m < hi} a1[i, m] a2[j, m] c^m for flat pairs (P,)."""
    acc = torch.zeros_like(c)
    for m in range(hi - 1, lo - 1, -1):
        acc.mul_(c).add_(a1[i, m] * a2[j, m])
    return acc * c.pow(lo)


def series(a1, a2, t1, t2, sec1, sec2, c, q1, q2) -> tuple[torch.Tensor, torch.Tensor]:
    """One expectation over the grid of pairs by Mehler's sum — over all pairs at the tier 95 %
    of them allow, the remaining terms only for the pairs that need them — and the mask of pairs
    no tier's bound clears (left for the direct rule)."""
    need, tiers = tiers_needed(t1, t2, sec1, sec2, c, min(a1.shape[1], a2.shape[1]))
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
            out[ii, jj] += mehler_pairs(a1, a2, ii, jj, c[ii, jj], tiers[dense], top)
    if bool(same.any()):
        out = torch.where(same, sec1[:, None].expand_as(out), out)
    return out, need == len(tiers)


def series_flat(a, t, sec, i, j, c) -> tuple[torch.Tensor, torch.Tensor]:
    """``series`` for pairs given elementwise: pair p joins the input of coefficients a[i[p]] with
    the one of a[j[p]] at correlation c[p] (all (P,)); each pair gets the fewest terms its bound
    allows, and the mask of pairs no tier clears is returned for the direct rule."""
    tiers = [k for k in TIERS if k < a.shape[1]] + [a.shape[1]]
    ac, scale = c.abs(), TOL * torch.sqrt(sec[i] * sec[j])
    need = torch.full(c.shape, len(tiers), dtype=torch.int64)
    for idx in range(len(tiers) - 1, -1, -1):
        k = tiers[idx]
        need = torch.where(ac.pow(k) * torch.sqrt(t[i, k] * t[j, k]) <= scale, idx, need)
    same = (c == 1.0) & (i == j)  # an input with itself: E[φ(u)²] exactly
    out = torch.where(same, sec[i], 0.0)
    for idx, k in enumerate(tiers):
        sel = ((need == idx) & ~same).nonzero(as_tuple=True)[0]
        for s in range(0, len(sel), 1 << 18):
            part = sel[s:s + (1 << 18)]
            out[part] = mehler_pairs(a, a, i[part], j[part], c[part], 0, k)
    return out, (need == len(tiers)) & ~same


def _flat_index(coords: torch.Tensor, shape: tuple, full: tuple) -> torch.Tensor:
    """Linear indices into a tensor of ``shape`` (broadcasting to ``full``) of the entries at ``coords`` (P, ndim) of the full shape."""
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc if n > 1 else 0)
        acc *= n
    strides = torch.tensor(list(reversed(strides)), dtype=torch.int64)
    return coords @ strides if coords.numel() else torch.zeros(0, dtype=torch.int64)


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values (U, K) at every entry of ``index`` (any shape), coefficient-major: (K, *index.shape)."""
    return values.T[:, index.reshape(-1)].reshape(-1, *index.shape)


def _rows(t: torch.Tensor, lo: int, hi: int, lead: int) -> torch.Tensor:
    """Rows lo:hi of the first pair dimension (after ``lead`` leading dimensions), unless it is broadcast."""
    return t if t.shape[lead] == 1 else t.narrow(lead, lo, hi - lo)


def _blocks(c: torch.Tensor) -> list[tuple[int, int]]:
    """Blocks of rows of about 64K pairs: the K multiply-adds of one block stay in cache."""
    step = max(1, (1 << 16) // max(1, c[0].numel())) if c.ndim else 1
    return [(lo, min(c.shape[0], lo + step)) for lo in range(0, max(1, c.shape[0]), step)]


def _tier_counts(rt1, rt2, rs1, rs2, c, same, tiers) -> torch.Tensor:
    """Per pair, the number of tiers whose bound |c|^K √(t₁t₂) exceeds TOL·√(sec₁sec₂) (the bound falls with K)."""
    need = torch.zeros(c.shape, dtype=torch.int8)
    for lo, hi in _blocks(c):
        ac = c[lo:hi].abs()
        scale = _rows(rs1, lo, hi, 0) * _rows(rs2, lo, hi, 0) * TOL
        power, part = ac.pow(tiers[0]), need[lo:hi]
        for idx, k in enumerate(tiers):
            if idx:
                power.mul_(ac.pow(k - tiers[idx - 1]))
            part += power * (_rows(rt1[idx], lo, hi, 0) * _rows(rt2[idx], lo, hi, 0)) > scale
    return need.masked_fill_(same, 0)


def series_broadcast(a, tails, second, i1, i2, c, same) -> tuple[torch.Tensor, torch.Tensor]:
    """``series`` for pairs laid out by broadcasting: the coefficients a (U, K), tails (U, K + 1) and
    second moments (U,) of U distinct variances, and each pair's two indices into them, i1 and i2,
    broadcasting to c's shape; ``same`` marks the pairs of one input with itself. Horner's rule
    over every pair at the tier 95 % of them allow, in blocks of rows that stay in cache, the
    remaining terms only where needed; the mask of pairs no tier clears is returned."""
    full = c.shape
    tiers = [k for k in TIERS if k < a.shape[1]] + [a.shape[1]]
    rt, rs = tails[:, tiers].sqrt(), second.sqrt()  # √(t₁t₂) and √(sec₁sec₂) as products of per-input roots
    need = _tier_counts(_gather(rt, i1), _gather(rt, i2), rs[i1], rs[i2], c, same, tiers)
    counts = torch.bincount(need.flatten().long(), minlength=len(tiers) + 1).cumsum(0)
    dense = next(idx for idx in range(len(tiers)) if counts[idx] >= 0.95 * need.numel() or idx == len(tiers) - 1)
    kd = tiers[dense]
    a1, a2 = _gather(a[:, :kd], i1), _gather(a[:, :kd], i2)
    out = torch.empty(full, dtype=torch.float64)
    for lo, hi in _blocks(c):
        b1, b2, cb = _rows(a1, lo, hi, 1), _rows(a2, lo, hi, 1), c[lo:hi]
        acc = (b1[kd - 1] * b2[kd - 1]).expand(cb.shape).contiguous()
        for m in range(kd - 2, -1, -1):
            acc.mul_(cb).addcmul_(b1[m], b2[m])
        out[lo:hi] = acc
    coords = ((need > dense) & (need < len(tiers))).nonzero()
    if len(coords):
        at = tuple(coords.T)
        top = tiers[int(need[at].max())]
        j1, j2 = i1.expand(full)[at], i2.expand(full)[at]
        out[at] += mehler_pairs(a, a, j1, j2, c[at], kd, top)
    if bool(same.any()):
        out = torch.where(same, second[i1].expand(full), out)
    return out, need == len(tiers)
