"""The article's algebra, generated: a network's equations expanded into y = W'x + b'.

For widths n₀ → n₁ → … → n_L (``layers``), layer l computes

    h⁽ˡ⁾_j = σ( Σ_i w⁽ˡ⁾_{j,i} h⁽ˡ⁻¹⁾_i + b⁽ˡ⁾_j ),   h⁽⁰⁾ = x,   the output layer without σ.

With the identity σ the derivation substitutes each layer into the next, expands, groups
like terms by xᵢ and renames the coefficients, exactly as the article does by hand for
2-2-1: every W'_{k,i} is a polynomial in the weights (one term per path from xᵢ to y_k,
∏ hidden widths of them) and b'_k collects the biases. With a nonlinear σ the substitution
still goes through, but expansion cannot move xᵢ out of σ(·): the derivation says where it
stops. All widths 1 gives the univariate chain of experiment E1, in the article's β, b
notation: β' = ∏βᵢ, b' = Σᵢ bᵢ ∏_{j>i} βⱼ.

sympy is imported inside the functions: ``import actlab`` does not load it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import activations

__all__ = ["Derivation", "derive", "estimate_terms", "MAX_TERMS", "substitute"]

MAX_TERMS = 20_000  # refuse derivations whose expanded W', b' would hold more terms than this


@dataclass(frozen=True)
class Step:
    title: str
    text: str  # one sentence of explanation
    equations: tuple[str, ...]  # LaTeX, one equation per line


@dataclass(frozen=True)
class Derivation:
    layers: tuple[int, ...]
    activation: str
    steps: tuple[Step, ...]
    reduces: bool  # True when the network collapses to y = W'x + b'
    weight: Any = field(repr=False)  # sympy Matrix (n_out, n_in) of W' (None if it does not reduce)
    bias: Any = field(repr=False)  # sympy Matrix (n_out, 1) of b'
    weight_symbols: tuple = field(repr=False)  # per layer: (W symbols matrix, b symbols matrix)
    input_symbols: tuple = field(repr=False)

    def to_markdown(self) -> str:
        out = [f"# Derivation: {'-'.join(map(str, self.layers))} network, activation {self.activation}", ""]
        for i, st in enumerate(self.steps, 1):
            out += [f"## {i}. {st.title}", "", st.text, ""]
            out += ["$$", " \\\\\n".join(st.equations), "$$", ""]
        return "\n".join(out)

    def to_latex(self) -> str:
        out = [f"% Derivation: {'-'.join(map(str, self.layers))} network, activation {self.activation}"]
        for i, st in enumerate(self.steps, 1):
            out += [f"\\paragraph{{{i}. {st.title}}} {st.text}", "\\begin{align*}"]
            out += [" \\\\\n".join(e.replace("=", "&=", 1) for e in st.equations), "\\end{align*}"]
        return "\n".join(out)

    def lines(self) -> list[tuple[str, str]]:
        """(kind, text) lines for rendering: kind is 'title', 'text' or 'math'."""
        out = []
        for i, st in enumerate(self.steps, 1):
            out += [("title", f"{i}. {st.title}"), ("text", st.text)]
            out += [("math", e) for e in st.equations]
        return out


def estimate_terms(layers: Sequence[int]) -> int:
    """Terms in the expanded W' and b': out·in·∏hidden (paths) plus the bias paths."""
    layers = list(layers)
    n_in, n_out, hidden = layers[0], layers[-1], layers[1:-1]
    paths = math.prod(hidden) if hidden else 1
    bias_terms = 1 + sum(math.prod(layers[l + 1 : -1]) * layers[l] for l in range(1, len(layers) - 1))
    return n_out * (n_in * paths + bias_terms)


def _check_layers(layers: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(w) for w in layers)
    except (TypeError, ValueError):
        raise ValueError(f"layers must be widths like (2, 2, 1), got {layers!r}") from None
    if len(out) < 2 or any(w < 1 for w in out):
        raise ValueError(f"layers must be at least two widths ≥ 1 (input, …, output), got {list(layers)!r}")
    return out


def _pair(j: int, i: int, rows: int, cols: int) -> str:
    """Subscript of weight (j, i): "ji" while every index is one digit, "j,i" otherwise — with
    11 units, "111" would name both (1, 11) and (11, 1)."""
    return f"{j}{i}" if rows < 10 and cols < 10 else f"{j},{i}"


def derive(layers: Sequence[int] = (2, 2, 1), activation: str = "linear", max_terms: int = MAX_TERMS) -> Derivation:
    """Generate the derivation for a network of the given widths (input first, output last)."""
    layers = _check_layers(layers)
    activation = activations.resolve(activation)
    n_terms = estimate_terms(layers)
    if n_terms > max_terms:
        raise ValueError(
            f"layers {'-'.join(map(str, layers))} would expand to about {n_terms:,} terms, above the limit of "
            f"{max_terms:,}; use smaller widths (e.g. 2,2,1 or 3,3,2) or raise max_terms (CLI: --max-terms)"
        )
    net = _Net.symbols(layers, activation)
    steps = [_layer_equations(net)]
    substitution, value = _substitution(net)
    steps.append(substitution)
    if not net.affine:
        steps.append(_where_it_stops(net, value))
        return Derivation(layers, activation, tuple(steps), False, None, None, tuple(zip(net.Ws, net.bs)), tuple(net.x))
    expansion, expanded = _expansion(net, value)
    grouping, W, b = _grouping(net, expanded)
    steps += [expansion, grouping, _renaming(net, W, b)]
    return Derivation(layers, activation, tuple(steps), True, W, b, tuple(zip(net.Ws, net.bs)), tuple(net.x))


@dataclass
class _Net:
    """A network's symbols: inputs x, weights and biases per layer, and the names of the hidden
    units (h) and outputs (y), in the article's notation."""

    sp: Any  # the sympy module (imported lazily)
    layers: tuple[int, ...]
    activation: str
    affine: bool
    chain: bool  # widths all 1: the article's univariate notation (β, b)
    x: Any
    Ws: list
    bs: list
    names: list  # per layer, the names of its outputs (h…, then y)

    @classmethod
    def symbols(cls, layers: tuple[int, ...], activation: str) -> "_Net":
        import sympy as sp

        chain = all(w == 1 for w in layers)
        n_layers = len(layers) - 1
        x = sp.Matrix([sp.Symbol("x" if layers[0] == 1 else f"x_{i + 1}") for i in range(layers[0])])
        Ws, bs = [], []
        for l in range(n_layers):
            rows, cols = layers[l + 1], layers[l]
            if chain:
                Ws.append(sp.Matrix([[sp.Symbol(f"beta_{l + 1}")]]))
                bs.append(sp.Matrix([sp.Symbol(f"b_{l + 1}")]))
            else:
                Ws.append(sp.Matrix(rows, cols, lambda j, i: sp.Symbol(f"w^{{({l + 1})}}_{{{_pair(j + 1, i + 1, rows, cols)}}}")))
                bs.append(sp.Matrix(rows, 1, lambda j, _: sp.Symbol(f"b^{{({l + 1})}}_{{{j + 1}}}")))
        h_names = [
            sp.Matrix([sp.Symbol(f"h^{{({l + 1})}}_{{{j + 1}}}" if not chain else f"h_{l + 1}") for j in range(layers[l + 1])])
            for l in range(n_layers - 1)
        ]
        y_names = sp.Matrix([sp.Symbol("y" if layers[-1] == 1 else f"y_{k + 1}") for k in range(layers[-1])])
        return cls(sp, layers, activation, activations.get(activation).is_affine, chain, x, Ws, bs, [*h_names, y_names])

    @property
    def n_layers(self) -> int:
        return len(self.layers) - 1

    @property
    def y(self):
        return self.names[-1]

    def lin(self, l: int, j: int, inputs: list[str]) -> str:
        """Unit j of layer l's affine form "w x + … + b", in the article's order."""
        tex = self.sp.latex
        return " + ".join(f"{tex(self.Ws[l][j, i])} {inputs[i]}" for i in range(self.layers[l])) + f" + {tex(self.bs[l][j])}"

    def wrap(self, l: int, body: str) -> str:
        """What a unit of layer l outputs, given its affine form (σ around it but for the output)."""
        return body if l == self.n_layers - 1 or self.affine else f"\\sigma\\left({body}\\right)"


def _layer_equations(net: _Net) -> Step:
    """1. Each layer in terms of the previous layer's names."""
    tex = net.sp.latex
    eqs = []
    for l in range(net.n_layers):
        inputs = [tex(v) for v in (net.x if l == 0 else net.names[l - 1])]
        eqs += [f"{tex(net.names[l][j])} = {net.wrap(l, net.lin(l, j, inputs))}" for j in range(net.layers[l + 1])]
    return Step(
        "Layer equations",
        "Each unit is a weighted sum of the previous layer plus a bias"
        + ("" if net.affine else f", passed through the activation σ = {net.activation}: {activations.get(net.activation).formula}")
        + "; the output layer is linear.",
        tuple(eqs),
    )


def _substitution(net: _Net) -> tuple[Step, Any]:
    """2. y in terms of x, layer by layer, unexpanded; and y's value as a sympy matrix."""
    sigma, _ = _sigma_functions(net.sp)
    inputs, value = [net.sp.latex(v) for v in net.x], net.x
    for l in range(net.n_layers):
        texts = [net.wrap(l, net.lin(l, j, inputs)) for j in range(net.layers[l + 1])]
        inputs = [t if not net.affine else f"\\left({t}\\right)" for t in texts]
        pre = net.Ws[l] * value + net.bs[l]
        value = pre if l == net.n_layers - 1 else pre.applyfunc(lambda e: e if net.affine else sigma(e))
    step = Step("Substitution", "Substitute each layer's equations into the next, from the input to the output.",
                tuple(f"{net.sp.latex(net.y[k])} = {texts[k]}" for k in range(net.layers[-1])))
    return step, value


def _where_it_stops(net: _Net, value) -> Step:
    """With a nonlinear σ: the slope still depends on x."""
    tex = net.sp.latex
    return Step(
        "Where it stops",
        "Expansion cannot move x out of σ, which stays wrapped around an affine form: the slope "
        "depends on x through σ', so no constant W', b' exist. Not an affine map.",
        tuple(f"\\frac{{\\partial {tex(net.y[k])}}}{{\\partial {tex(net.x[0])}}} = {tex(net.sp.diff(value[k], net.x[0]))}"
              for k in range(net.layers[-1])),
    )


def _expansion(net: _Net, value) -> tuple[Step, Any]:
    """3. Every product multiplied out."""
    expanded = value.applyfunc(net.sp.expand)
    step = Step("Expansion", "Multiply out every product.",
                tuple(f"{net.sp.latex(net.y[k])} = {net.sp.latex(expanded[k])}" for k in range(net.layers[-1])))
    return step, expanded


def _grouping(net: _Net, expanded) -> tuple[Step, Any, Any]:
    """4. Like terms collected: W' (the coefficients of x) and b' (the rest)."""
    sp, layers, x = net.sp, net.layers, net.x
    W = sp.Matrix(layers[-1], layers[0], lambda k, i: sp.expand(expanded[k]).coeff(x[i]))
    b = sp.Matrix(layers[-1], 1, lambda k, _: sp.expand(expanded[k] - sum(W[k, i] * x[i] for i in range(layers[0]))))
    grouped = []
    for k in range(layers[-1]):
        terms = " + ".join(f"\\left({sp.latex(sp.factor_terms(W[k, i]))}\\right) {sp.latex(x[i])}" for i in range(layers[0]))
        grouped.append(f"{sp.latex(net.y[k])} = {terms} + \\left({sp.latex(b[k])}\\right)")
    return Step("Grouping like terms", "Collect the terms of each input and the constant terms.", tuple(grouped)), W, b


def _renaming(net: _Net, W, b) -> Step:
    """5. The grouped coefficients named: y = W'x + b'."""
    sp, layers, x = net.sp, net.layers, net.x
    if net.chain:
        rename = [f"\\beta' = {sp.latex(W[0, 0])}", f"b' = {sp.latex(b[0])}", "y = \\beta' x + b'"]
    else:
        pair = lambda k, i: _pair(k + 1, i + 1, layers[-1], layers[0])  # noqa: E731
        rename = [f"w'_{{{pair(k, i)}}} = {sp.latex(W[k, i])}" for k in range(layers[-1]) for i in range(layers[0])]
        rename += [f"b'_{{{k + 1}}} = {sp.latex(b[k])}" for k in range(layers[-1])]
        for k in range(layers[-1]):
            terms = " + ".join(f"w'_{{{pair(k, i)}}} {sp.latex(x[i])}" for i in range(layers[0]))
            rename.append(f"{sp.latex(net.y[k])} = {terms} + b'_{{{k + 1}}}")
    return Step(
        "Renaming",
        "Name the grouped coefficients: they are constants (polynomials in the weights), so the network is "
        "one affine map y = W'x + b' — a linear model.",
        tuple(rename),
    )


def _sigma_functions(sp):
    """σ and σ' as sympy functions that print as \\sigma and \\sigma' (d/dz σ(z) = σ'(z))."""

    class sigma_prime(sp.Function):
        def _latex(self, printer):
            return f"\\sigma'\\left({printer._print(self.args[0])}\\right)"

    class sigma(sp.Function):
        def fdiff(self, argindex=1):
            return sigma_prime(self.args[0])

        def _latex(self, printer):
            return f"\\sigma\\left({printer._print(self.args[0])}\\right)"

    return sigma, sigma_prime


def substitute(derivation: Derivation, weights: Sequence[Any], biases: Sequence[Any]):
    """Numeric W' (n_out, n_in) and b' (n_out,) for numeric layer weights (each (rows, cols))
    and biases, as float64 numpy arrays: the symbolic result evaluated (for tests and checks)."""
    import numpy as np
    import sympy as sp

    if not derivation.reduces:
        raise ValueError(f"a {derivation.activation} network does not reduce to W', b'")
    symbols, values = [], []
    for (Wsym, bsym), w, b in zip(derivation.weight_symbols, weights, biases):
        w, b = np.asarray(w, dtype=float), np.asarray(b, dtype=float).reshape(-1)
        if w.shape != Wsym.shape or b.shape[0] != bsym.shape[0]:
            raise ValueError(f"expected a weight of shape {Wsym.shape} and a bias of {bsym.shape[0]}, got {w.shape} and {b.shape}")
        symbols += list(Wsym) + list(bsym)
        values += list(w.ravel()) + list(b)
    f = sp.lambdify(symbols, [derivation.weight, derivation.bias], modules="numpy")
    W, b = f(*values)
    return np.asarray(W, dtype=float), np.asarray(b, dtype=float).reshape(-1)
