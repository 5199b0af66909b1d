"""Figures and animations from result objects (matplotlib, imported lazily). Never trains."""

from ._io import atomic_path, save_json
from .derive import render_derivation
from .geometry import plot_depth_and_neurons, plot_hidden_space, plot_region_map, plot_xor_regions, write_geometry_figures
from .dynamics import plot_depth_sweep, plot_init_range, plot_relu_failures, plot_saxe_modes, write_dynamics_figures, write_dynamics_outputs
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
    "plot_saxe_modes",
    "plot_depth_sweep",
    "plot_init_range",
    "plot_relu_failures",
    "write_dynamics_figures",
    "write_dynamics_outputs",
    "plot_xor_regions",
    "plot_region_map",
    "plot_depth_and_neurons",
    "plot_hidden_space",
    "write_geometry_figures",
]
