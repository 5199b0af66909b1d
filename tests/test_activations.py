"""The registry: names, aliases, torch functions against their formulas and sympy twins."""

import pytest
import torch

from actlab import activations


def test_registry_has_the_required_entries():
    required = {"linear", "relu", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus",
                "sigmoid", "tanh", "hardtanh", "hardsigmoid", "hardswish", "relu6", "softsign", "sin",
                "gaussian", "square", "abs"}
    assert required <= set(activations.names())
    assert activations.resolve("identity") == "linear" and activations.resolve("Swish") == "silu"


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'foo'; expected one of: linear, relu"):
        activations.get("foo")


@pytest.mark.parametrize("name", activations.names())
def test_torch_function_matches_its_sympy_twin(name):
    sympy = pytest.importorskip("sympy")
    a = activations.get(name)
    x = sympy.Symbol("x", real=True)
    f = sympy.lambdify(x, a.sympy_expr(x), modules=["math", "mpmath"])
    for v in (-3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 7.0):
        expected = float(f(v))
        got = float(a(torch.tensor(v, dtype=torch.float64)))
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-9), (name, v)


def test_only_the_identity_is_affine():
    assert [a for a in activations.names() if activations.get(a).is_affine] == ["linear"]
