"""Figures and animations from result objects (matplotlib, imported lazily). Never trains."""

from ._io import atomic_path, save_json
from .derive import render_derivation
from .univariate import univariate_gif
from .xor import boundary_gif, plot_boundaries, plot_loss_curves, plot_success, write_xor_outputs, xor_3d_gif

__all__ = [
    "atomic_path",
    "save_json",
    "plot_success",
    "plot_loss_curves",
    "plot_boundaries",
    "xor_3d_gif",
    "boundary_gif",
    "write_xor_outputs",
    "render_derivation",
    "univariate_gif",
]
