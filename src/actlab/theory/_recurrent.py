"""A recurrent layer at infinite width: h_t = φ(W x_t + U h_{t−1} + b), h_0 = 0, every weight
matrix of variance σ_w²/fan_in and every bias vector σ_b² (``nn.RNN`` has two).

The pre-activations g_t of two sequences at times t and t′ = t + d are jointly Gaussian with

    Σ_g[d, t] = σ_w²·Σ_x[d, t] + σ_w²·Σ_h[d, t−1] + b,      Σ_h[d, t] = E[φ(u)φ(v)]
    Θ_g[d, t] = Σ_g[d, t] + σ_w²·(Θ_x[d, t] + Θ_h[d, t−1]),  Θ_h[d, t] = E[φ′(u)φ′(v)]·Θ_g[d, t]

(u, v) ~ N(0, the pair's Σ_g) — the recurrent weights, shared over time, couple a pair at one
offset only to the same offset one step back (Alemohammad et al. 2021, the recurrent NTK). Each
input's own variances along its time axis come first (a chain of its own), then every offset
with them. The layer's output is Σ_h, Θ_h over the offsets the next layer needs.
"""

from __future__ import annotations

import torch

from ._gauss import flat_expectations, second_moments
from ._state import Cov, centre, crop, shifted, valid

__all__ = ["recurrent"]


def _variances(name: str, v_in: torch.Tensor, sigma_w2: float, bias: float) -> torch.Tensor:
    """(n, T): the pre-activations' variance at each step of each input."""
    out = torch.empty_like(v_in)
    prev = torch.zeros_like(v_in[:, 0])
    for t in range(v_in.shape[1]):
        out[:, t] = sigma_w2 * (v_in[:, t] + prev) + bias
        prev = second_moments(name, out[:, t])[0]
    return out


def _chain(name, x, h_shape, v1, v2, sigma_w2, bias, mask, ntk_in, want_ntk):
    """Σ_h (and Θ_h) (batch…, D, T) of one pair layout: ``x`` the input's covariance, v1 and v2
    the variances broadcast against it."""
    T = x.shape[-1]
    kh = torch.zeros(h_shape, dtype=torch.float64)
    th = torch.zeros(h_shape, dtype=torch.float64) if want_ntk else None
    for t in range(T):
        prev = kh[..., t - 1] if t else 0.0
        kg = (sigma_w2 * (x[..., t] + prev) + bias) * mask[:, t]
        e, d = flat_expectations(name, v1[..., t], v2[..., t], kg, want_deriv=want_ntk)
        kh[..., t] = e * mask[:, t]
        if want_ntk:
            tg = kg + sigma_w2 * ((0.0 if ntk_in is None else ntk_in[..., t]) + (th[..., t - 1] if t else 0.0))
            th[..., t] = d * tg
    return kh, th


def recurrent(state: Cov, name: str, sigma_w2: float, bias: float, radius_out: tuple[int, ...], want_ntk: bool, tag) -> Cov:
    """One recurrent layer over the input sequence ``state`` (positions (T,)); ``bias`` the
    summed biases' variance. The output keeps offsets up to ``radius_out``."""
    x = state.map(lambda t, nb: crop(t, nb, state.radius, radius_out))
    r = radius_out
    mask = valid(state.size, r)  # (D, T)
    v1 = _variances(name, centre(x.self1, 1, r), sigma_w2, bias)
    v2 = v1 if x.self2 is None else _variances(name, centre(x.self2, 1, r), sigma_w2, bias)
    s1 = _chain(name, x.self1, x.self1.shape, v1[:, None, :], shifted(v1, r), sigma_w2, bias, mask, None, False)[0]
    s2 = None if x.self2 is None else _chain(name, x.self2, x.self2.shape, v2[:, None, :], shifted(v2, r), sigma_w2, bias, mask,
                                             None, False)[0]
    kh, th = _chain(name, x.cross, x.cross.shape, v1[:, None, None, :], shifted(v2, r)[None], sigma_w2, bias, mask, x.ntk, want_ntk)
    out = Cov(kh, s1, s2, th, state.size, r, False, None, state.deps | {tag})
    if out.self2 is None:
        i = torch.arange(kh.shape[0])
        out.cross[i, i] = out.self1
    return out
