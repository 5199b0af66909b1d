"""Where each activation bends, and the piecewise activations' pieces: the tables the series
(``_hermite``) and the direct rules (``_direct``) share.

``KINKS``: where φ′ or φ″ jumps, in u (the rules put a panel edge there). ``PIECES``: the
activations polynomial (times eˣ at most) between breaks: (breaks, φ's pieces, φ′'s pieces), each
piece (p₀, p₁, p₂, e) meaning p₀ + p₁x + p₂x² + e·eˣ. Their Gaussian smoothing E[g(m + sξ)] is
closed, so their direct rule needs one dimension, not two, and the polynomial ones need no rule.
"""

from __future__ import annotations

__all__ = ["KINKS", "PIECES", "LEAKY_SLOPE", "polynomial"]

LEAKY_SLOPE = 0.01  # torch's and actlab's leaky_relu

# where φ′ or φ″ jumps, in u: the rules put a panel edge there
KINKS: dict[str, tuple[float, ...]] = {
    "relu": (0.0,), "leaky_relu": (0.0,), "abs": (0.0,), "elu": (0.0,), "selu": (0.0,), "celu": (0.0,),
    "softsign": (0.0,), "hardtanh": (-1.0, 1.0), "relu6": (0.0, 6.0), "hardsigmoid": (-3.0, 3.0),
    "hardswish": (-3.0, 3.0),
}


_ZERO, _X, _ONE = (0.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0)
_L, _A = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717  # selu's λ and α
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


def polynomial(name: str) -> bool:
    """Whether ``name`` is polynomial on each piece (no eˣ term): its coefficients need no rule."""
    return name in PIECES and all(p[3] == 0.0 for p in (*PIECES[name][1], *PIECES[name][2]))
