"""Infinite-width theory: what an activation does to a Gaussian signal, exactly.

``nngp`` and ``ntk`` (kernels.py: a stack of dense layers), ``kernel`` (module.py: any torch module
of dense, convolutional, pooling and recurrent layers, read by torch.fx), ``predict`` (predict.py:
what the infinitely wide network predicts after training) and the mean-field signal propagation ``signal``,
``critical_sigma_w2``, ``q_map``, ``c_map`` (signal.py), on one engine of Gaussian expectations
(_gauss.py: closed forms where they exist, Hermite series and Gauss–Legendre rules elsewhere),
float64.
"""

from .kernels import VarianceOverflowError, nngp, ntk
from .module import Kernels, kernel
from .predict import Prediction, predict
from .signal import SignalPropagation, c_map, critical_sigma_w2, derivative_moments, jacobian_variance, q_map, signal

__all__ = ["nngp", "ntk", "kernel", "Kernels", "predict", "Prediction", "VarianceOverflowError", "SignalPropagation", "signal", "critical_sigma_w2", "q_map", "c_map", "derivative_moments",
           "jacobian_variance"]
