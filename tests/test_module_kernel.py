"""actlab.kernel: the infinite-width kernels of torch modules, against three oracles —
neural-tangents' stax (recorded, tests/fixtures/record_nt_kernels.py), the dense recursion
(actlab.nngp / actlab.ntk), and wide torch networks over seeds (the empirical NNGP from the
readout's features, the empirical NTK from torch.func's Jacobians)."""

import math
import os

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab.nets import Act, SimpleRNN

SW, SB = 1.5, 0.1
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "nt_kernels.npz")


# ------------------------------------------------------------------ architectures, as torch writes them


class Residual(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.c0, self.c1 = nn.Conv2d(2, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.head = nn.Sequential(nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(c * 4, 1))

    def forward(self, x):
        h = self.c0(x)
        return self.head(self.c1(torch.relu(h)) + h)


class GlobalMean(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.c0, self.c1, self.out = nn.Conv2d(2, c, 3), nn.Conv2d(c, c, 2), nn.Linear(c, 1)

    def forward(self, x):
        return self.out(torch.erf(self.c1(nn.functional.gelu(self.c0(x)))).mean((2, 3)))


class LastState(nn.Module):
    def __init__(self, h=8, act="tanh", layers=1, features=3):
        super().__init__()
        self.rnn, self.out = nn.RNN(features, h, num_layers=layers, batch_first=True, nonlinearity=act), nn.Linear(h, 1)

    def forward(self, x):
        return self.out(self.rnn(x)[1][-1])


class AllStates(nn.Module):
    def __init__(self, h=8, act="relu", steps=4):
        super().__init__()
        self.rnn, self.out = nn.RNN(3, h, batch_first=True, nonlinearity=act), nn.Linear(h * steps, 1)

    def forward(self, x):
        return self.out(self.rnn(x)[0].flatten(1))


class MeanStates(nn.Module):
    def __init__(self, h=8):
        super().__init__()
        self.rnn, self.out = nn.RNN(3, h, batch_first=True), nn.Linear(h, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.out(out.mean(1))


def article_conv(c=8, act=nn.ReLU, channels=3):
    """The article's convolutional net: 3×3 convolutions (valid), 2×2 average pooling, a dense readout (on 8 × 8 images)."""
    return nn.Sequential(nn.Conv2d(channels, c, 3), act(), nn.AvgPool2d(2), nn.Conv2d(c, c, 3), act(), nn.Flatten(), nn.Linear(c, 1))


NT_TWINS = {  # the fixtures' architectures in torch (NCHW), each the twin of its stax serial
    "dense_erf_gelu": (lambda: nn.Sequential(nn.Linear(5, 8), Act("erf"), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 1)), None),
    "conv_same_relu_avgpool": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding="same"),
                                                     nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(72, 1)), (0, 3, 1, 2)),
    "conv_valid_gelu_global": (GlobalMean, (0, 3, 1, 2)),
    "conv_linear_flatten": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, padding=1), nn.Flatten(),
                                                  nn.Linear(128, 1)), (0, 3, 1, 2)),
    "residual": (Residual, (0, 3, 1, 2)),
    "conv1d_relu_avgpool": (lambda: nn.Sequential(nn.Conv1d(3, 8, 3, padding=1), nn.ReLU(), nn.AvgPool1d(2), nn.Flatten(),
                                                  nn.Linear(32, 1)), (0, 2, 1)),
}


@pytest.mark.parametrize("name", sorted(NT_TWINS))
def test_equals_neural_tangents_stax(name):
    d = np.load(FIXTURES)
    make, perm = NT_TWINS[name]
    x1, x2 = torch.from_numpy(d[f"{name}/x1"]), torch.from_numpy(d[f"{name}/x2"])
    if perm:
        x1, x2 = x1.permute(*perm), x2.permute(*perm)
    k = actlab.kernel(make(), x1, x2, sigma_w2=float(d["sigma_w2"]), sigma_b2=float(d["sigma_b2"]))
    for get in ("nngp", "ntk"):
        ref = torch.from_numpy(d[f"{name}/{get}"])
        assert getattr(k, get).shape == ref.shape
        torch.testing.assert_close(getattr(k, get), ref, rtol=1e-6, atol=1e-6 * float(ref.abs().max()))


@pytest.mark.parametrize("act", ["relu", "tanh", "gelu", "softplus", "linear"])
def test_dense_stack_is_the_dense_recursion(act):
    x = torch.randn(7, 5, dtype=torch.float64)
    layer = nn.Identity() if act == "linear" else Act(act)
    model = nn.Sequential(nn.Linear(5, 9), layer, nn.Linear(9, 9), layer, nn.Linear(9, 2))
    k = actlab.kernel(model, x, sigma_w2=SW, sigma_b2=SB)
    torch.testing.assert_close(k.nngp, actlab.nngp(act, x, depth=2, sigma_w2=SW, sigma_b2=SB), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(k.ntk, actlab.ntk(act, x, depth=2, sigma_w2=SW, sigma_b2=SB), rtol=1e-12, atol=1e-12)


def test_get_forms_and_nngp_ntk_share_one_pass():
    x = torch.randn(4, 5, dtype=torch.float64)
    model = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 1))
    both = actlab.kernel(model, x, x[:3])
    assert both.nngp.shape == (4, 3) and both.ntk.shape == (4, 3)
    torch.testing.assert_close(actlab.kernel(model, x, x[:3], get="ntk"), both.ntk, rtol=0, atol=0)
    only = actlab.kernel(model, x, get=("nngp",))
    assert only.ntk is None
    torch.testing.assert_close(only.nngp, actlab.kernel(model, x, get="nngp"), rtol=0, atol=0)


# ------------------------------------------------------------------ wide torch networks over seeds


def _init(model, seed):
    """Every weight N(0, σ_w²/fan_in), every bias N(0, σ_b²): the distribution the kernel describes."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            var = SW / (p.shape[1] * math.prod(p.shape[2:])) if p.ndim >= 2 else SB
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * math.sqrt(var))
    return model


def _readout(model) -> nn.Linear:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


@torch.no_grad()
def _empirical_nngp(make, x, width, seeds):
    """The readout's NNGP at one width, averaged over seeds: σ_w² h·h′/fan_in + σ_b² from its features h."""
    total = 0.0
    for seed in range(seeds):
        model = _init(make(width).double(), seed)
        seen = {}
        _readout(model).register_forward_hook(lambda mod, inp, out: seen.setdefault("h", inp[0]))
        model(x)
        h = seen["h"]
        total = total + SW * h @ h.T / h.shape[1] + SB
    return total / seeds


def _empirical_ntk(make, x, width, seeds):
    """Σ over parameters of var(θ)·⟨∂f/∂θ(x), ∂f/∂θ(x′)⟩: the NTK parameterisation's tangent kernel of a
    network in torch's standard one, averaged over seeds."""
    total = 0.0
    for seed in range(seeds):
        model = _init(make(width).double(), seed)
        params = {k: v.detach() for k, v in model.named_parameters()}
        jac = torch.func.jacrev(lambda p: torch.func.functional_call(model, p, (x,))[:, 0])(params)
        for name, p in params.items():
            var = SW / (p.shape[1] * math.prod(p.shape[2:])) if p.ndim >= 2 else SB
            j = jac[name].reshape(len(x), -1)
            total = total + var * j @ j.T
    return total / seeds


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


WIDE = {  # architecture, input shape, narrow and wide widths
    "article conv (relu, avg pool)": (lambda c: article_conv(c), (3, 8, 8), 32, 512),
    "residual conv": (lambda c: Residual(c), (2, 4, 4), 16, 1024),
    "nn.RNN tanh, last state": (lambda h: LastState(h), (5, 3), 64, 1024),
    "nn.RNN relu, 2 layers": (lambda h: LastState(h, "relu", 2), (4, 3), 64, 1024),
    "nn.RNN relu, all states": (lambda h: AllStates(h), (4, 3), 64, 1024),
    "nn.RNN tanh, mean of states": (lambda h: MeanStates(h), (4, 3), 64, 1024),
    "SimpleRNN linear, stacked": (lambda h: nn.Sequential(SimpleRNN(3, h, "linear", True), SimpleRNN(h, h, "linear"),
                                                          nn.Linear(h, 1)), (4, 3), 64, 1024),
}


@pytest.mark.parametrize("name", sorted(WIDE))
def test_nngp_is_the_limit_of_wide_networks(name):
    make, shape, narrow, wide = WIDE[name]
    x = torch.randn(4, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    k = actlab.kernel(make(2), x, sigma_w2=SW, sigma_b2=SB, get="nngp")
    far, near = (_rel(_empirical_nngp(make, x, w, 24), k) for w in (narrow, wide))
    assert near < 0.04, (far, near)
    assert far / near > 2.0, (far, near)  # 16 times the width: about 4 times closer (1/√width)


@pytest.mark.parametrize("name", ["article conv (relu, avg pool)", "nn.RNN tanh, last state", "nn.RNN relu, all states"])
def test_ntk_is_the_limit_of_wide_networks(name):
    make, shape, narrow, wide = WIDE[name]
    x = torch.randn(3, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    k = actlab.kernel(make(2), x, sigma_w2=SW, sigma_b2=SB, get="ntk")
    far, near = (_rel(_empirical_ntk(make, x, w, 4), k) for w in (narrow * 2, wide * 2))
    assert near < 0.05, (far, near)
    assert far / near > 2.0, (far, near)


# ------------------------------------------------------------------ without activation, a linear model


LINEAR = {
    "dense": (lambda: nn.Sequential(nn.Linear(6, 4), nn.Identity(), nn.Linear(4, 4), nn.Linear(4, 1)), (6,)),
    "article conv": (lambda: article_conv(act=nn.Identity, channels=1), (1, 8, 8)),
    "conv, global mean": (lambda: nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                                                nn.Linear(4, 1)), (2, 5)),
    "SimpleRNN, all states": (lambda: nn.Sequential(SimpleRNN(2, 4, "linear", True), nn.Flatten(), nn.Linear(12, 1)), (3, 2)),
}


@pytest.mark.parametrize("name", sorted(LINEAR))
@pytest.mark.parametrize("get", ["nngp", "ntk"])
def test_identity_kernels_have_rank_at_most_d_plus_1(name, get):
    make, shape = LINEAR[name]
    d = math.prod(shape)
    x = torch.randn(d + 12, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    k = actlab.kernel(make(), x, sigma_w2=SW, sigma_b2=SB, get=get)
    s = torch.linalg.svdvals(k)
    assert int((s > 1e-9 * s[0]).sum()) <= d + 1
    # and with relu the same architecture is not a linear model
    relu = actlab.kernel(make(), x, sigma_w2=SW, sigma_b2=SB, get=get) if name == "dense" else None
    if relu is not None:
        model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 4), nn.Linear(4, 1))
        s = torch.linalg.svdvals(actlab.kernel(model, x, sigma_w2=SW, sigma_b2=SB, get=get))
        assert int((s > 1e-9 * s[0]).sum()) > d + 1


# ------------------------------------------------------------------ bad input


class MaxPooled(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.pool, self.out = nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Linear(8, 1)

    def forward(self, x):
        return self.out(self.pool(self.conv(x)).flatten(1))


class SelfResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 4), nn.Linear(4, 1)

    def forward(self, x):
        h = self.a(x)
        return self.b(h + torch.relu(h))


@pytest.mark.parametrize("model, x, match", [
    (MaxPooled(), torch.randn(2, 1, 6, 6), "pool .*MaxPool2d"),
    (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)), torch.randn(2, 3), "BatchNorm1d"),
    (nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1)), torch.randn(2, 3), "negative_slope=0.2"),
    (SelfResidual(), torch.randn(2, 3), "independent branches"),
    (nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1)), torch.randn(2, 5), "does not run on inputs of shape \\(5,\\)"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 1)), torch.randn(2, 1, 6, 6), "expected a dense input"),
    (nn.Sequential(nn.Conv2d(1, 2, 3)), torch.randn(2, 1, 6, 6), "output is \\(N, outputs\\)"),
    (nn.Sequential(nn.ReLU(), nn.Linear(3, 1)), torch.randn(2, 3), "before any layer with weights"),
    (nn.RNN(3, 4), torch.randn(2, 5, 3), "batch_first"),
    (nn.RNN(3, 4, batch_first=True), torch.randn(2, 5, 3), "returns one tensor, got nn.RNN's \\(output, h_n\\)"),
])
def test_unsupported_models_are_named(model, x, match):
    with pytest.raises(ValueError, match=match):
        actlab.kernel(model, x)


def test_bad_inputs_and_settings():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="x1: expected finite"):
        actlab.kernel(model, torch.tensor([[0.0, float("nan"), 1.0]]))
    with pytest.raises(ValueError, match=r"x2: expected \(n, 3\) like x1"):
        actlab.kernel(model, x, torch.randn(2, 4))
    with pytest.raises(ValueError, match="sigma_w2: expected a finite weight variance > 0"):
        actlab.kernel(model, x, sigma_w2=0.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        actlab.kernel(model, x, sigma_b2=-1.0)
    with pytest.raises(ValueError, match="get: expected"):
        actlab.kernel(model, x, get="ntgp")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        actlab.kernel(lambda t: t, x)


def test_overflow_is_named_not_a_nan():
    model = nn.Sequential(*[m for _ in range(300) for m in (nn.Linear(3 if _ == 0 else 4, 4), nn.ReLU())], nn.Linear(4, 1))
    with pytest.raises(actlab.VarianceOverflowError, match="leaves float64"):
        actlab.kernel(model, torch.randn(2, 3) * 1e3, sigma_w2=20.0)
