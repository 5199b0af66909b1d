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
    affine = activations.get(activation).is_affine
    n_terms = estimate_terms(layers)
    if n_terms > max_terms:
        raise ValueError(
            f"layers {'-'.join(map(str, layers))} would expand to about {n_terms:,} terms, above the limit of "
            f"{max_terms:,}; use smaller widths (e.g. 2,2,1 or 3,3,2) or raise max_terms (CLI: --max-terms)"
        )
    import sympy as sp

    chain = all(w == 1 for w in layers)
    n_layers = len(layers) - 1
    x = sp.Matrix([sp.Symbol("x" if layers[0] == 1 else f"x_{i + 1}") for i in range(layers[0])])
    Ws, bs = [], []
    for l in range(n_layers):
        rows, cols = layers[l + 1], layers[l]
        if chain:  # the article's univariate notation
            W = sp.Matrix([[sp.Symbol(f"beta_{l + 1}")]])
            b = sp.Matrix([sp.Symbol(f"b_{l + 1}")])
        else:
            W = sp.Matrix(rows, cols, lambda j, i: sp.Symbol(f"w^{{({l + 1})}}_{{{_pair(j + 1, i + 1, rows, cols)}}}"))
            b = sp.Matrix(rows, 1, lambda j, _: sp.Symbol(f"b^{{({l + 1})}}_{{{j + 1}}}"))
        Ws.append(W)
        bs.append(b)
    sigma, _ = _sigma_functions(sp)
    h_names = [
        sp.Matrix([sp.Symbol(f"h^{{({l + 1})}}_{{{j + 1}}}" if not chain else f"h_{l + 1}") for j in range(layers[l + 1])])
        for l in range(n_layers - 1)
    ]
    y_names = sp.Matrix([sp.Symbol("y" if layers[-1] == 1 else f"y_{k + 1}") for k in range(layers[-1])])
    names = [*h_names, y_names]
    tex = sp.latex

    def lin(l: int, j: int, inputs: list[str]) -> str:  # "w x + … + b", in the article's order
        return " + ".join(f"{tex(Ws[l][j, i])} {inputs[i]}" for i in range(layers[l])) + f" + {tex(bs[l][j])}"

    def wrap(l: int, body: str) -> str:  # what unit of layer l outputs, given its affine form
        if l == n_layers - 1:
            return body
        return body if affine else f"\\sigma\\left({body}\\right)"

    # 1. layer equations, each in terms of the previous layer's names
    eqs = []
    for l in range(n_layers):
        inputs = [tex(v) for v in (x if l == 0 else names[l - 1])]
        eqs += [f"{tex(names[l][j])} = {wrap(l, lin(l, j, inputs))}" for j in range(layers[l + 1])]
    steps = [
        Step(
            "Layer equations",
            "Each unit is a weighted sum of the previous layer plus a bias"
            + ("" if affine else f", passed through the activation σ = {activation}: {activations.get(activation).formula}")
            + "; the output layer is linear.",
            tuple(eqs),
        )
    ]
    # 2. substitution: y in terms of x, layer by layer, unexpanded
    inputs = [tex(v) for v in x]
    value = x
    for l in range(n_layers):
        texts = [wrap(l, lin(l, j, inputs)) for j in range(layers[l + 1])]
        inputs = [t if not affine else f"\\left({t}\\right)" for t in texts]
        pre = Ws[l] * value + bs[l]
        value = pre if l == n_layers - 1 else pre.applyfunc(lambda e: e if affine else sigma(e))
    steps.append(
        Step(
            "Substitution",
            "Substitute each layer's equations into the next, from the input to the output.",
            tuple(f"{tex(y_names[k])} = {texts[k]}" for k in range(layers[-1])),
        )
    )
    if not affine:
        steps.append(
            Step(
                "Where it stops",
                "Expansion cannot move x out of σ, which stays wrapped around an affine form: the slope "
                "depends on x through σ', so no constant W', b' exist. Not an affine map.",
                tuple(
                    f"\\frac{{\\partial {tex(y_names[k])}}}{{\\partial {tex(x[0])}}} = {tex(sp.diff(value[k], x[0]))}"
                    for k in range(layers[-1])
                ),
            )
        )
        return Derivation(layers, activation, tuple(steps), False, None, None, tuple(zip(Ws, bs)), tuple(x))
    # 3. expansion
    expanded = value.applyfunc(sp.expand)
    steps.append(
        Step(
            "Expansion",
            "Multiply out every product.",
            tuple(f"{sp.latex(y_names[k])} = {sp.latex(expanded[k])}" for k in range(layers[-1])),
        )
    )
    # 4. grouping like terms
    W = sp.Matrix(layers[-1], layers[0], lambda k, i: sp.expand(expanded[k]).coeff(x[i]))
    b = sp.Matrix(layers[-1], 1, lambda k, _: sp.expand(expanded[k] - sum(W[k, i] * x[i] for i in range(layers[0]))))
    grouped = []
    for k in range(layers[-1]):
        terms = " + ".join(f"\\left({sp.latex(sp.factor_terms(W[k, i]))}\\right) {sp.latex(x[i])}" for i in range(layers[0]))
        grouped.append(f"{sp.latex(y_names[k])} = {terms} + \\left({sp.latex(b[k])}\\right)")
    steps.append(Step("Grouping like terms", "Collect the terms of each input and the constant terms.", tuple(grouped)))
    # 5. renaming
    if chain:
        rename = [f"\\beta' = {sp.latex(W[0, 0])}", f"b' = {sp.latex(b[0])}", "y = \\beta' x + b'"]
    else:
        pair = lambda k, i: _pair(k + 1, i + 1, layers[-1], layers[0])  # noqa: E731
        rename = [f"w'_{{{pair(k, i)}}} = {sp.latex(W[k, i])}" for k in range(layers[-1]) for i in range(layers[0])]
        rename += [f"b'_{{{k + 1}}} = {sp.latex(b[k])}" for k in range(layers[-1])]
        for k in range(layers[-1]):
            terms = " + ".join(f"w'_{{{pair(k, i)}}} {sp.latex(x[i])}" for i in range(layers[0]))
            rename.append(f"{sp.latex(y_names[k])} = {terms} + b'_{{{k + 1}}}")
    steps.append(
        Step(
            "Renaming",
            "Name the grouped coefficients: they are constants (polynomials in the weights), so the network is "
            "one affine map y = W'x + b' — a linear model.",
            tuple(rename),
        )
    )
    return Derivation(layers, activation, tuple(steps), True, W, b, tuple(zip(Ws, bs)), tuple(x))


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
