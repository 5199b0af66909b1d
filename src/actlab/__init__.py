"""actlab: why neural networks need activation functions, by measurement.

    import actlab
    m = actlab.collapse(model, in_shape=(3, 32, 32))      # exact AffineMap, certified
    c = actlab.check_affine(model, in_shape=(3, 32, 32))  # verdict on the probed domain
    r = actlab.audit(model, example_inputs)               # where nonlinearity hides
    folded = actlab.fold(model, example_inputs)           # adjacent affine layers merged
    rm = actlab.regions(relu_net, bounds=(-6, 6, -6, 6))  # its exact linear regions on a plane
    K = actlab.ntk("tanh", x, depth=3)                    # the kernel of the infinitely wide net
    k = actlab.kernel(conv_net, images)                   # the same for any conv / pooling / RNN module
    p = actlab.predict(conv_net, x, y, x_test)            # what that infinite net predicts once trained
    s = actlab.signal("tanh", sigma_w2=1.5, sigma_b2=0.05)  # q*, χ₁, depth scales, phase
    rows = actlab.sweep("phase_diagram", "runs/phase")     # a grid × seeds, resumable, local or on Ray
"""

from . import activations, init, nets
from .theory import (Kernels, Prediction, SignalPropagation, VarianceOverflowError, critical_sigma_w2, kernel, nngp, ntk, predict,
                     signal)
from .studies import sweep
from .analysis.audit import AuditReport, audit
from .analysis.fold import fold
from .analysis.regions import NotPiecewiseLinearError, RegionMap, TooManyRegionsError, regions
from .affine import (
    AffineCheck,
    AffineMap,
    MapTooLargeError,
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
    "AuditReport",
    "audit",
    "fold",
    "MapTooLargeError",
    "NonFiniteError",
    "NotAffineError",
    "NotPiecewiseLinearError",
    "RegionMap",
    "TooManyRegionsError",
    "regions",
    "activations",
    "check_affine",
    "collapse",
    "init",
    "sweep",
    "nets",
    "nngp",
    "ntk",
    "kernel",
    "Kernels",
    "predict",
    "Prediction",
    "VarianceOverflowError",
    "SignalPropagation",
    "signal",
    "critical_sigma_w2",
    "tolerance_for",
    "__version__",
]
