"""How collapse builds W: forward probing, reverse passes and the plain pullback, each against
the others and the model; refusals, fallbacks and near misses."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

import actlab
from _nets import article_conv_net, reset_from_seed


class _DetachedLinear(nn.Module):
    """Affine in its values, but autograd sees a constant: .detach() inside forward."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 3)

    def forward(self, x):
        return self.lin(x).detach() + 0 * x[:, :3]


class _NoGradLinear(_DetachedLinear):
    def forward(self, x):
        with torch.no_grad():
            return self.lin(x)


class _CastsInternally(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 4)

    def forward(self, x):
        return self.lin(x.float())


@pytest.mark.parametrize("cls", [_DetachedLinear, _NoGradLinear])
def test_forward_without_gradients_is_collapsed_by_probing(cls):
    """Was: 'not affine' — reverse mode read W off gradients the forward had cut."""
    torch.manual_seed(0)
    model = cls()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = actlab.collapse(model, (64,))
        c = actlab.check_affine(model, in_shape=(64,))
    assert m.verified and m.method == "forward" and c.is_affine
    if cls is _DetachedLinear:  # (under no_grad autograd raises instead, and probing is used without a word)
        assert any("gradients disagree" in str(w.message) for w in caught)
    assert torch.allclose(m.weight, model.lin.weight.double()) and torch.allclose(m.bias, model.lin.bias.double())


def test_a_module_that_casts_internally_is_judged_at_its_own_precision():
    """Was: 'mat1 and mat2 must have the same dtype' — float64 weights met the float32 cast."""
    torch.manual_seed(0)
    model = _CastsInternally()
    c = actlab.check_affine(model, in_shape=(64,))
    assert c.is_affine and c.precision == "float32" and c.tolerance == actlab.tolerance_for(torch.float32)
    m = actlab.collapse(model, (64,))
    assert m.precision == "float32" and torch.allclose(m.weight, model.lin.weight.double(), atol=1e-6)
    relu = nn.Sequential(_CastsInternally(), nn.ReLU())
    assert not actlab.check_affine(relu, in_shape=(64,)).is_affine


@st.composite
def _affine_on_a_domain(draw):
    """A random affine composition and a domain away from 0: shifted, scaled, one-sided."""
    seed = draw(st.integers(0, 10_000))
    widths = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    shift = draw(st.floats(-1e3, 1e3, allow_nan=False))
    scale = draw(st.sampled_from([1e-3, 1.0, 50.0]))
    one_sided = draw(st.booleans())
    return seed, widths, shift, scale, one_sided


@settings(max_examples=30, deadline=None)
@given(_affine_on_a_domain())
def test_property_affine_compositions_on_shifted_domains(case):
    seed, widths, shift, scale, one_sided = case
    g = torch.Generator().manual_seed(seed)
    mats = [(torch.randn(o, i, generator=g, dtype=torch.float64), torch.randn(o, generator=g, dtype=torch.float64) * 10)
            for i, o in zip(widths, widths[1:])]
    W = torch.eye(widths[0], dtype=torch.float64)
    b = torch.zeros(widths[0], dtype=torch.float64)
    for A, c in mats:  # the closed-form oracle: W = A_L ⋯ A_1, b = Σ A_L ⋯ A_{i+1} c_i
        W, b = A @ W, A @ b + c

    def f(x):
        for A, c in mats:
            x = x @ A.T + c
        return x

    u = torch.rand(32, widths[0], generator=g, dtype=torch.float64)
    X = shift + scale * (u if one_sided else 2 * u - 1)  # (32, d), away from 0
    c = actlab.check_affine(f, inputs=X)
    assert c.is_affine, c.message
    ref = X @ W.T + b
    assert (c.map(X) - ref).abs().max() <= 1e-9 * max(ref.abs().max().item(), 1.0)
    m = actlab.collapse(f, (widths[0],))
    assert torch.allclose(m.weight, W, atol=1e-9 * W.abs().max().item()) and m.verified


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.floats(1.0, 100.0))
def test_property_relu_layer_is_affine_on_one_region_only(seed, d, margin):
    """relu(Ax + c) is affine where every pre-activation keeps its sign, not across a kink."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(3, d, generator=g, dtype=torch.float64)
    c = torch.full((3,), margin, dtype=torch.float64) + A.abs().sum(dim=1)  # positive on the unit box
    f = lambda x: torch.relu(x @ A.T + c)  # noqa: E731
    inside = torch.rand(64, d, generator=g, dtype=torch.float64)  # [0, 1]^d: all pre-activations > margin
    ok = actlab.check_affine(f, inputs=inside)
    assert ok.is_affine and torch.allclose(ok.map.weight, A) and torch.allclose(ok.map.bias, c)
    across = inside * 0 + (torch.rand(64, d, generator=g, dtype=torch.float64) * 2 - 1) * 10 * (margin + A.abs().sum())
    assert not actlab.check_affine(f, inputs=across).is_affine


def test_both_reverse_passes_agree_with_forward_probing():
    """The vmapped engine pass and its fallback (a batch of copies) against basis probing."""
    from actlab._probing import _basis_probe, _prepare, _reverse_batched, _reverse_vmapped

    for arch, kw in [("conv", dict(in_shape=(3, 12, 12), out=7, hidden=(4, 5), pool=(True, False))),
                     ("rnn", dict(in_shape=(6, 3), out=5, hidden=(4, 6)))]:
        model = actlab.nets.build(actlab.nets.spec_from_sizes(arch, **kw), "linear", seed=1)
        t = _prepare(model, kw["in_shape"])
        W0, b0 = _basis_probe(t, 64, "cpu")
        for rev in (_reverse_vmapped, _reverse_batched):
            W, b = rev(t, 3, "cpu")  # chunks of 3 rows: several chunks
            torch.testing.assert_close(W, W0, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(b, b0, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------
# W read off plain layers (no autograd) against autograd's reverse pass


@st.composite
def _plain_stacks(draw):
    seed = draw(st.integers(0, 10_000))
    h, w = draw(st.integers(6, 14)), draw(st.integers(6, 14))
    c = draw(st.integers(1, 3))
    layers: list[nn.Module] = []
    c_in = c
    for _ in range(draw(st.integers(1, 3))):
        c_out = draw(st.integers(1, 4))
        kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        layers.append(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation,
                                bias=draw(st.booleans())))
        if draw(st.booleans()):
            layers.append(nn.Identity())
        c_in = c_out
    head = draw(st.sampled_from(["conv", "flatten-linear", "linear-on-rows"]))
    return seed, (c, h, w), layers, head


@settings(max_examples=60, deadline=None)
@given(_plain_stacks())
def test_property_plain_pullback_equals_autograd_reverse(stack):
    """Strides, paddings, dilations, non-square kernels, both ways of adding patches back."""
    from actlab._probing import _prepare, _reverse, _reverse_plain

    seed, in_shape, layers, head = stack
    torch.manual_seed(seed)
    model = nn.Sequential(*layers).double()
    reset_from_seed(model)
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *in_shape, dtype=torch.float64))
    except RuntimeError:  # the drawn stack shrinks the image below one pixel: not a valid draw
        assume(False)
    if head == "flatten-linear":
        model.append(nn.Flatten()).append(nn.Linear(out[0].numel(), 3).double())
    elif head == "linear-on-rows":  # a Linear on the last axis of a 4-D tensor
        model.append(nn.Linear(out.shape[-1], 2).double())
    t = _prepare(model, in_shape)
    got = _reverse_plain(t, "cpu")
    assert got is not None
    weight, bias = _reverse(t, 256, "cpu")
    scale = weight.abs().max().item()
    torch.testing.assert_close(got[0], weight, rtol=0, atol=1e-13 * scale + 1e-300)
    torch.testing.assert_close(got[1], bias, rtol=0, atol=1e-13 * bias.abs().max().item() + 1e-300)


class _ScaledConv(nn.Conv2d):
    def forward(self, x):
        return 2 * super().forward(x)


@pytest.mark.parametrize("case", ["subclass", "groups", "hook", "same-padding", "reflect"])
def test_plain_pullback_refuses_layers_it_cannot_read(case):
    from actlab._probing import _prepare, _reverse_plain

    torch.manual_seed(0)
    conv = {
        "subclass": lambda: _ScaledConv(2, 4, 3),
        "groups": lambda: nn.Conv2d(2, 4, 3, groups=2),
        "hook": lambda: nn.Conv2d(2, 4, 3),
        "same-padding": lambda: nn.Conv2d(2, 4, 3, padding="same"),
        "reflect": lambda: nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"),
    }[case]()
    if case == "hook":
        conv.register_forward_hook(lambda mod, args, out: 3 * out)
    model = nn.Sequential(conv, nn.Flatten()).double()
    t = _prepare(model, (2, 7, 7))
    assert _reverse_plain(t, "cpu") is None
    # and collapse still gets the model's own map (autograd), certified
    m = actlab.collapse(model, (2, 7, 7))
    x = torch.randn(3, 2, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(m(x).reshape(3, -1), model(x).reshape(3, -1), rtol=1e-10, atol=1e-10)


def test_a_wrong_plain_pullback_is_caught_and_autograd_takes_over(monkeypatch):
    """The plain W is checked against the function's own values before it is used."""
    import actlab._probing as probing

    real = probing._conv_pullback
    monkeypatch.setattr(probing, "_conv_pullback", lambda g, conv, shape: 1.01 * real(g, conv, shape))
    in_shape, model = article_conv_net()
    m = actlab.collapse(model, in_shape)
    assert m.verified and m.method == "reverse" and m.folded
    monkeypatch.setattr(actlab.affine, "_reverse", lambda *a: (_ for _ in ()).throw(RuntimeError("no autograd")))
    assert actlab.collapse(model, in_shape).method == "forward"  # neither W from the layers nor autograd's
    monkeypatch.setattr(probing, "_conv_pullback", real)
    assert actlab.collapse(model, in_shape).method == "reverse"  # the right plain W, without autograd


def test_collapse_leaves_a_float64_models_buffers_alone():
    """BatchNorm in training mode updates its buffers on every call: the copy must own them."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten()).double().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    actlab.collapse(model, (2, 6, 6), strict=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


class _NoEmptyBatch(nn.Module):
    """Affine, but refuses an empty batch (as some user modules do)."""

    def forward(self, x):
        if x.shape[0] == 0:
            raise RuntimeError("empty batch")
        return 2 * x


def test_fold_sizes_layers_on_a_real_sample_when_a_layer_refuses_an_empty_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.AvgPool2d(2), nn.Conv2d(4, 4, 2), nn.Flatten(), _NoEmptyBatch()).double()
    m = actlab.collapse(model, (2, 10, 10))
    assert m.verified and any("→" in s for s in m.folded)
    x = torch.randn(2, 2, 10, 10, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(m(x).reshape(2, -1), model(x), rtol=1e-12, atol=1e-12)


def test_a_kink_at_the_point_is_not_reported_as_cut_gradients():
    """Was: a ReLU net with its kinks at 0 warned 'torch.no_grad(), .detach() … inside forward?'
    (the demo printed it twice): the one-sided quotients differ there, nothing was cut."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16, bias=False), nn.ReLU(), nn.Linear(16, 2)).double()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = actlab.check_affine(model, in_shape=(8,))
        m = actlab.collapse(model, (8,), strict=False)
    assert not c.is_affine and not m.verified and m.method == "reverse"


def test_probed_map_of_an_affine_black_box_with_a_huge_offset_is_certified():
    """Was: NotAffineError (residual 5.6e-12 > 1.8e-12) for an exactly affine numpy function:
    W[:, i] = f(eᵢ) − f(0) loses ~eps·|b| per entry, and at scale 1000 over 3,072 inputs that
    rounding alone broke the tolerance. collapse probes again with a step |b|/|W|."""
    rng = np.random.default_rng(2)
    w, b = rng.normal(size=(3, 3072)), rng.normal(size=3) * 3e4  # one probing left a 5.6e-12 residual

    def f(x, bend=0.0):
        if not isinstance(x, np.ndarray):
            raise TypeError("numpy arrays only")
        return x @ w.T + b + bend * (x**2).sum(1, keepdims=True)

    m = actlab.collapse(f, (3072,))
    assert m.verified and m.method == "forward"
    np.testing.assert_allclose(m.weight.numpy(), w, rtol=0, atol=1e-10)
    np.testing.assert_allclose(m.bias.numpy(), b, rtol=1e-15)
    assert actlab.check_affine(f, in_shape=(3072,)).is_affine  # its map test probes the same way
    # a function a hair away from affine is still refused after the second probing
    with pytest.raises(actlab.NotAffineError):
        actlab.collapse(lambda x: f(x, bend=1e-14), (3072,))
    assert not actlab.check_affine(lambda x: f(x, bend=1e-14), in_shape=(3072,)).is_affine


def test_a_map_over_max_bytes_is_a_typed_error_and_check_affine_skips_only_that():
    model = torch.nn.Linear(50, 40).double()
    with pytest.raises(actlab.MapTooLargeError, match="above max_bytes"):
        actlab.collapse(model, (50,), max_bytes=100)
    c = actlab.check_affine(model, in_shape=(50,), max_bytes=100)
    assert c.is_affine and "map test skipped" in c.message and c.map is None
