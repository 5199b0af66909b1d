"""Infinite-width theory: what an activation does to a Gaussian signal, exactly.

``nngp`` and ``ntk`` (kernels.py) on one engine of Gaussian expectations (_gauss.py: closed
forms where they exist, Hermite series and Gauss–Legendre rules elsewhere), float64.
"""

from .kernels import nngp, ntk

__all__ = ["nngp", "ntk"]
