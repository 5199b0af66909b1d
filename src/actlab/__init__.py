"""actlab: why neural networks need activation functions, by measurement.

    import actlab
    m = actlab.collapse(model, in_shape=(3, 32, 32))      # exact AffineMap, certified
    c = actlab.check_affine(model, in_shape=(3, 32, 32))  # verdict on the probed domain
"""

from . import activations, nets
from .affine import (
    AffineCheck,
    AffineMap,
    NonFiniteError,
    NotAffineError,
    check_affine,
    collapse,
    tolerance_for,
)

__version__ = "0.1.0"

__all__ = [
    "AffineCheck",
    "AffineMap",
    "NonFiniteError",
    "NotAffineError",
    "activations",
    "check_affine",
    "collapse",
    "nets",
    "tolerance_for",
    "__version__",
]
