"""Generated derivations against numbers: sympy's W', b' vs actlab.collapse and the E1 closed form."""


import numpy as np
import pytest
import torch

import actlab
from actlab import symbolic
from actlab.experiments.univariate import chain_collapse


def _net(layers, weights, biases):
    mods = []
    for w, b in zip(weights, biases):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
    return torch.nn.Sequential(*mods)


def test_2_2_1_has_the_articles_structure():
    d = symbolic.derive((2, 2, 1))
    assert [s.title for s in d.steps] == ["Layer equations", "Substitution", "Expansion", "Grouping like terms", "Renaming"]
    assert d.reduces and d.steps[-1].equations[-1] == "y = w'_{11} x_{1} + w'_{12} x_{2} + b'_{1}"
    md = d.to_markdown()
    assert md.strip().endswith("$$") and "y = w'_{11} x_{1} + w'_{12} x_{2} + b'_{1}" in md.splitlines()[-2]
    assert "\\begin{align*}" in d.to_latex()
    assert len(d.weight.free_symbols) == 6  # W' uses the six weights, not the biases


@pytest.mark.parametrize("layers", [(2, 2, 1), (3, 2, 2), (2, 3, 2, 1)])
def test_substituted_coefficients_equal_collapse(layers):
    d = symbolic.derive(layers)
    rng = np.random.default_rng(sum(layers))
    worst = 0.0
    for _ in range(100 if layers == (2, 2, 1) else 20):
        weights = [rng.normal(size=(layers[l + 1], layers[l])) for l in range(len(layers) - 1)]
        biases = [rng.normal(size=layers[l + 1]) for l in range(len(layers) - 1)]
        W, b = symbolic.substitute(d, weights, biases)
        m = actlab.collapse(_net(layers, weights, biases), in_shape=(layers[0],), verify=False)
        worst = max(worst, np.abs(W - m.weight.numpy()).max(), np.abs(b - m.bias.numpy()).max())
    assert worst <= 1e-12


def test_univariate_chain_matches_the_closed_form():
    d = symbolic.derive((1, 1, 1, 1))
    assert d.steps[-1].equations[-1] == "y = \\beta' x + b'"
    rng = np.random.default_rng(0)
    for _ in range(50):
        betas, bs = rng.uniform(-3, 3, 3), rng.uniform(-3, 3, 3)
        W, b = symbolic.substitute(d, [np.array([[v]]) for v in betas], [np.array([v]) for v in bs])
        beta_c, b_c = chain_collapse(betas, bs)
        assert W[0, 0] == pytest.approx(beta_c, abs=1e-12) and b[0] == pytest.approx(b_c, abs=1e-12)


def test_nonlinear_derivation_stops_with_sigma_wrapped():
    d = symbolic.derive((2, 2, 1), "relu")
    assert not d.reduces and d.steps[-1].title == "Where it stops"
    assert "\\sigma\\left(w^{(1)}_{11} x_{1}" in d.steps[1].equations[0]
    assert "\\sigma'" in d.steps[-1].equations[0]
    with pytest.raises(ValueError, match="does not reduce"):
        symbolic.substitute(d, [], [])


def test_large_widths_are_refused_before_any_expansion(monkeypatch):
    """The refusal comes from the closed-form count: sympy never expands (no clock needed)."""
    import sympy

    def no_expand(*args, **kwargs):
        raise AssertionError("sympy.expand was called for a refused derivation")

    monkeypatch.setattr(sympy, "expand", no_expand)
    monkeypatch.setattr(sympy.Matrix, "applyfunc", no_expand)
    with pytest.raises(ValueError, match=r"about 266,304 terms, above the limit of 20,000; use smaller widths"):
        symbolic.derive((64, 64, 64))
    monkeypatch.undo()
    d = symbolic.derive((2, 2, 1))
    n_terms = sum(len(e.expand().as_ordered_terms()) for e in [*d.weight, *d.bias])
    assert symbolic.estimate_terms((2, 2, 1)) == n_terms == 7


@pytest.mark.parametrize("bad", [(3,), (2, 0, 1), ("a", 1)])
def test_bad_layers(bad):
    with pytest.raises(ValueError, match="layers"):
        symbolic.derive(bad)


def test_eleven_units_have_distinct_weight_symbols():
    """Was: w^{(1)}_{111} named both (1, 11) and (11, 1) — 143 symbols for 144 parameters, and
    substitute fed two weights one value."""
    d = symbolic.derive((11, 11, 1))
    names = [str(sym) for W, b in d.weight_symbols for sym in (*W, *b)]
    assert len(names) == 11 * 11 + 11 + 11 + 1 and len(set(names)) == len(names)
    assert "w^{(1)}_{1,11}" in names and "w^{(1)}_{11,1}" in names
    rng = np.random.default_rng(0)
    weights, biases = [rng.normal(size=(11, 11)), rng.normal(size=(1, 11))], [rng.normal(size=11), rng.normal(size=1)]
    W, b = symbolic.substitute(d, weights, biases)
    m = actlab.collapse(_net((11, 11, 1), weights, biases), (11,))
    assert np.allclose(W, m.weight.numpy(), atol=1e-10) and np.allclose(b, m.bias.numpy(), atol=1e-10)
    assert symbolic.derive((2, 2, 1)).steps[-1].equations[-1] == "y = w'_{11} x_{1} + w'_{12} x_{2} + b'_{1}"
