"""collapse folds conv/pool/BatchNorm pairs of a float64 copy before its reverse pass, and
check_affine and map_on_data judge folded models and data: always against the model itself."""


import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

import actlab
from _nets import article_conv_net, linear_stack, reset_from_seed


# ---------------------------------------------------------------- folding before the reverse pass


def test_collapse_folds_the_seed_conv_net_and_equals_the_unfolded_map():
    in_shape, model = article_conv_net()
    folded = actlab.collapse(model, in_shape)
    plain = actlab.collapse(model, in_shape, fold=False)
    probed = actlab.collapse(model, in_shape, method="forward", fold=False)  # oracle: the model on the basis
    assert plain.folded == () and probed.folded == ()
    # both pools merged into the convs before them; the folded first conv is 10×10, stride 4
    assert sum("AvgPool2d as a conv" in m for m in folded.folded) == 2
    assert any("(10, 10)" in m for m in folded.folded)
    scale = probed.weight.abs().max()
    assert (folded.weight - probed.weight).abs().max() / scale < 1e-12
    assert (folded.bias - probed.bias).abs().max() / probed.bias.abs().max() < 1e-12
    assert folded.verified and folded.to_dict()["folded"] == list(folded.folded)


def test_fold_is_skipped_where_it_would_cost_more():
    torch.manual_seed(0)
    # two 3×3 convs of equal width on a 32×32 image: one 5×5 kernel (28²·8·200 = 1.25M
    # multiply-adds) costs more than the pair (30²·8·72 + 28²·8·72 = 0.97M)
    model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3), nn.Flatten(), nn.Linear(8 * 28 * 28, 3)).double()
    m = actlab.collapse(model, (8, 32, 32))
    assert m.folded == () and m.verified
    # on an 8×8 image the borders dominate and the 5×5 kernel is the cheaper: merged
    small = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3), nn.Flatten(), nn.Linear(8 * 4 * 4, 3)).double()
    assert actlab.collapse(small, (8, 8, 8)).folded == ("0 + 1 → one Conv2d (5, 5), stride (1, 1)",)
    # a dense stack has no conv pair: nothing is copied or folded
    assert actlab.collapse(linear_stack(0, [6, 5, 4]), (6,)).folded == ()


def test_collapse_verifies_against_the_model_not_the_folded_copy(monkeypatch):
    """A wrong folding rule must not slip through: the certificate runs the original model."""
    import actlab._folding as folding

    real = folding._conv_conv

    def broken(a, b, budget=None):
        out, why = real(a, b, budget)
        if out is not None:
            with torch.no_grad():
                out.weight.mul_(1 + 1e-6)
        return out, why

    monkeypatch.setattr(folding, "_conv_conv", broken)
    in_shape, model = article_conv_net()
    with pytest.raises(actlab.NotAffineError):
        actlab.collapse(model, in_shape)
    assert actlab.collapse(model, in_shape, fold=False).verified


def test_collapse_with_relu_between_convs_does_not_fold_across_it():
    in_shape, model = article_conv_net("relu")
    m = actlab.collapse(model, in_shape, strict=False)
    assert not m.verified
    assert all("Act" not in s for s in m.folded)  # relu is never dropped as an identity


@st.composite
def _conv_stacks(draw):
    seed = draw(st.integers(0, 10_000))
    size = draw(st.integers(12, 20))
    c = draw(st.integers(1, 4))
    layers: list[nn.Module] = []
    for i in range(draw(st.integers(1, 3))):
        c_out = draw(st.integers(1, 4))
        k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        pad = draw(st.integers(0, 1)) if i == 0 else 0
        layers.append(nn.Conv2d(c if i else 3, c_out, k, stride=s, dilation=d, padding=pad))
        kind = draw(st.sampled_from(["none", "pool", "bn", "identity"]))
        if kind == "pool":
            layers.append(nn.AvgPool2d(2))
        elif kind == "bn":
            layers.append(nn.BatchNorm2d(c_out))
        elif kind == "identity":
            layers.append(actlab.nets.Act("linear"))
        c = c_out
    return seed, size, c, layers


@settings(max_examples=40, deadline=None)
@given(_conv_stacks())
def test_property_folded_collapse_equals_basis_probing(stack):
    seed, size, c, layers = stack
    torch.manual_seed(seed)
    model = nn.Sequential(*layers, nn.Flatten())
    reset_from_seed(model)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-1, 1)
                mod.running_var.uniform_(0.5, 2)
                mod.weight.uniform_(-2, 2)
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, size, size))
    except RuntimeError:  # the drawn stack shrinks the image below one pixel: not a valid draw
        assume(False)
    model = nn.Sequential(*model, nn.Linear(out.shape[1], 2)).double().eval()
    m = actlab.collapse(model, (3, size, size), method="reverse")
    # the oracle's certificate is not the test here: with W far below the bias its own probing error
    # (below) can exceed the float64 tolerance at scale 1000
    oracle = actlab.collapse(model, (3, size, size), method="forward", fold=False, strict=False)
    # the oracle's column i is f(eᵢ) − f(0): it carries the rounding of f's values (~1e-16 |b|), which
    # outweighs 1e-12 max|W| when pooling shrinks W far below the bias (was a flaky failure)
    atol = 1e-12 * oracle.weight.abs().max().item() + 1e-13 * oracle.bias.abs().max().item()
    torch.testing.assert_close(m.weight, oracle.weight, rtol=1e-11, atol=atol)
    torch.testing.assert_close(m.bias, oracle.bias, rtol=1e-11, atol=1e-12 * oracle.bias.abs().max().item() + 1e-15)
    assert m.verified


def test_check_affine_map_test_uses_the_fold_and_still_judges_the_model():
    in_shape, model = article_conv_net()
    c = actlab.check_affine(model, in_shape=in_shape)
    assert c.is_affine and c.map.folded and c.map_residual < 1e-13
    in_shape, relu = article_conv_net("relu")
    c = actlab.check_affine(relu, in_shape=in_shape)
    assert not c.is_affine


def test_check_affine_on_inputs_linearises_inside_the_domain():
    """Was: 'not affine', residual 1.0 — the map was built at 0, outside the judged domain."""
    x = 6 + torch.rand(32, 3, generator=torch.Generator().manual_seed(0))
    c = actlab.check_affine(lambda z: torch.relu(z - 5), inputs=x)
    assert c.is_affine and "linearised at their mean" in c.domain
    assert torch.allclose(c.map.weight, torch.eye(3, dtype=torch.float64))
    assert torch.allclose(c.map.bias, torch.full((3,), -5.0, dtype=torch.float64))
    # straddling the kink: not affine
    assert not actlab.check_affine(lambda z: torch.relu(z - 5), inputs=4 + 3 * torch.rand(32, 3)).is_affine


def test_map_on_data_of_a_relu_net_in_one_region():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        net[0].weight.abs_()
        net[0].bias.fill_(3.0)
    x = torch.rand(16, 3, dtype=torch.float64)
    m = actlab.affine.map_on_data(net, x)
    assert m.verified
    w = net[2].weight @ net[0].weight
    assert torch.allclose(m.weight, w) and torch.allclose(m.bias, net[2].weight @ net[0].bias + net[2].bias)
