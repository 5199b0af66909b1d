"""The one activation registry: name → torch function, formula, and a sympy twin.

Every other module looks activations up here (``get``), never by ``if name == ...``.
Each entry is elementwise: σ: ℝ → ℝ applied to every coordinate. Maxout, which acts on a
whole layer (max over k affine pieces), lives with the trainer as a layer type.

The sympy twins are built lazily: ``import actlab`` never imports sympy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

__all__ = ["Activation", "get", "names", "resolve", "act_and_deriv", "REGISTRY", "MAXOUT"]

MAXOUT = "maxout"  # the one layer-level activation (max over k affine pieces): a layer type of the trainer, not an entry


@dataclass(frozen=True)
class Activation:
    """One registry entry."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]  # elementwise torch function
    formula: str  # plain-text formula
    latex: str  # LaTeX formula, in terms of x
    sympy: Callable[[Any], Any] | None = None  # x (a sympy Symbol) -> expression
    is_affine: bool = False  # True only for the identity
    aliases: tuple[str, ...] = ()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def sympy_expr(self, x: Any) -> Any:
        """The sympy twin applied to ``x``; ValueError if there is none."""
        if self.sympy is None:
            raise ValueError(f"activation {self.name!r} has no sympy twin")
        return self.sympy(x)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "formula": self.formula,
            "latex": self.latex,
            "aliases": list(self.aliases),
            "affine": self.is_affine,
            "has_sympy": self.sympy is not None,
        }


def _sp():  # lazy sympy import for the twins
    import sympy

    return sympy


def _hardsigmoid_sym(x):
    sp = _sp()
    return sp.Max(0, sp.Min(1, x / 6 + sp.Rational(1, 2)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

_ENTRIES = [
    Activation("linear", lambda x: x, "x", r"x", lambda x: x, is_affine=True, aliases=("identity",)),
    Activation("relu", torch.relu, "max(0, x)", r"\max(0, x)", lambda x: _sp().Max(0, x)),
    Activation(
        "leaky_relu",
        lambda x: F.leaky_relu(x, 0.01),
        "max(0.01x, x)",
        r"\max(0.01x, x)",
        lambda x: _sp().Max(_sp().Rational(1, 100) * x, x),
    ),
    Activation(
        "elu",
        F.elu,
        "x if x > 0 else exp(x) - 1",
        r"\begin{cases} x & x>0 \\ e^{x}-1 & x\le 0 \end{cases}",
        lambda x: _sp().Piecewise((x, x > 0), (_sp().exp(x) - 1, True)),
    ),
    Activation(
        "selu",
        F.selu,
        "λ(x if x > 0 else α(exp(x) - 1)), λ≈1.0507, α≈1.6733",
        r"\lambda \begin{cases} x & x>0 \\ \alpha (e^{x}-1) & x\le 0 \end{cases}",
        lambda x: _SELU_SCALE * _sp().Piecewise((x, x > 0), (_SELU_ALPHA * (_sp().exp(x) - 1), True)),
    ),
    Activation(
        "celu",
        lambda x: F.celu(x, 1.0),
        "max(0, x) + min(0, exp(x) - 1)",
        r"\max(0,x) + \min(0, e^{x}-1)",
        lambda x: _sp().Max(0, x) + _sp().Min(0, _sp().exp(x) - 1),
    ),
    Activation(
        "gelu",
        F.gelu,
        "x Φ(x) = x/2 (1 + erf(x/√2))",
        r"\frac{x}{2}\left(1+\operatorname{erf}\frac{x}{\sqrt{2}}\right)",
        lambda x: x / 2 * (1 + _sp().erf(x / _sp().sqrt(2))),
    ),
    Activation("erf", torch.erf, "erf(x) = 2/√π ∫₀ˣ exp(−t²) dt", r"\operatorname{erf} x", lambda x: _sp().erf(x)),
    Activation(
        "silu",
        F.silu,
        "x / (1 + exp(-x))",
        r"\frac{x}{1+e^{-x}}",
        lambda x: x / (1 + _sp().exp(-x)),
        aliases=("swish",),
    ),
    Activation(
        "mish",
        F.mish,
        "x tanh(softplus(x))",
        r"x \tanh\left(\ln(1+e^{x})\right)",
        lambda x: x * _sp().tanh(_sp().log(1 + _sp().exp(x))),
    ),
    Activation(
        "softplus", F.softplus, "log(1 + exp(x))", r"\ln(1+e^{x})", lambda x: _sp().log(1 + _sp().exp(x))
    ),
    Activation("sigmoid", torch.sigmoid, "1 / (1 + exp(-x))", r"\frac{1}{1+e^{-x}}", lambda x: 1 / (1 + _sp().exp(-x))),
    Activation("tanh", torch.tanh, "tanh(x)", r"\tanh x", lambda x: _sp().tanh(x)),
    Activation(
        "hardtanh", F.hardtanh, "max(-1, min(1, x))", r"\max(-1, \min(1, x))", lambda x: _sp().Max(-1, _sp().Min(1, x))
    ),
    Activation("hardsigmoid", F.hardsigmoid, "max(0, min(1, x/6 + 1/2))", r"\max(0, \min(1, \tfrac{x}{6}+\tfrac12))", _hardsigmoid_sym),
    Activation(
        "hardswish",
        F.hardswish,
        "x · hardsigmoid(x)",
        r"x \max(0, \min(1, \tfrac{x}{6}+\tfrac12))",
        lambda x: x * _hardsigmoid_sym(x),
    ),
    Activation("relu6", F.relu6, "min(max(0, x), 6)", r"\min(\max(0, x), 6)", lambda x: _sp().Min(_sp().Max(0, x), 6)),
    Activation("softsign", F.softsign, "x / (1 + |x|)", r"\frac{x}{1+|x|}", lambda x: x / (1 + _sp().Abs(x))),
    Activation("sin", torch.sin, "sin(x)", r"\sin x", lambda x: _sp().sin(x)),
    Activation("gaussian", lambda x: torch.exp(-x * x), "exp(-x²)", r"e^{-x^{2}}", lambda x: _sp().exp(-(x**2))),
    Activation("square", lambda x: x * x, "x²", r"x^{2}", lambda x: x**2),
    Activation("abs", torch.abs, "|x|", r"|x|", lambda x: _sp().Abs(x)),
]

REGISTRY: dict[str, Activation] = {a.name: a for a in _ENTRIES}
_ALIASES: dict[str, str] = {alias: a.name for a in _ENTRIES for alias in a.aliases}

assert math.isclose(F.selu(torch.tensor(1.0)).item(), _SELU_SCALE, rel_tol=1e-6)


def names(include_aliases: bool = False) -> list[str]:
    """Registered names, in registry order (aliases appended when asked)."""
    out = list(REGISTRY)
    if include_aliases:
        out += list(_ALIASES)
    return out


def resolve(name: str) -> str:
    """The canonical name for ``name`` or an alias; ValueError naming the valid ones."""
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name (str), got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key in REGISTRY:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown activation {name!r}; expected one of: {', '.join(names(include_aliases=True))}")


def get(name: str) -> Activation:
    """The registry entry for ``name`` (or an alias)."""
    return REGISTRY[resolve(name)]


def act_and_deriv(act: Callable, z: torch.Tensor, keep: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """σ(z), and σ'(z) elementwise when ``keep``."""
    if not keep:
        return act(z), None
    if torch.compiler.is_compiling():  # traceable: no graph break
        return torch.func.jvp(act, (z,), (torch.ones_like(z),))
    if act is torch.relu:  # the common ones by formula: one or two kernels instead of autograd's six
        h = torch.relu(z)
        return h, torch.sign(h)  # 1 where z > 0, else 0
    if act is torch.tanh:
        h = torch.tanh(z)
        return h, torch.addcmul(torch.ones_like(h), h, h, value=-1)  # 1 − h²
    if act is torch.sigmoid:
        h = torch.sigmoid(z)
        return h, h * (1 - h)
    # others: autograd through one elementwise op is cheaper than a jvp; σ'(z) is the gradient of
    # Σσ(z) — an explicit grad_outputs tensor would make autograd import torch.fx's symbolic
    # shapes, and sympy with them (0.5 s per process)
    z_ = z.detach().requires_grad_(True)
    with torch.enable_grad():
        h = act(z_)
        total = h.sum()
    (deriv,) = torch.autograd.grad(total, z_)
    return h.detach(), deriv
