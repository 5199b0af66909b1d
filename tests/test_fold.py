"""fold: folded outputs equal the original's in float64; what cannot merge is left and said."""

import pytest
import torch
from torch import nn
import torch.nn.functional as F

from actlab.analysis.fold import fold, fold_with_report


def _close(a, b, x):
    with torch.no_grad():
        ya, yb = a(x), b(x)
    return float((ya - yb).abs().max() / ya.abs().max())


def test_linear_stack_becomes_one_linear():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Dropout(0.5), nn.Linear(32, 32), nn.Identity(), nn.Linear(32, 4)).double().eval()
    x = torch.randn(16, 8, dtype=torch.float64)
    folded = fold(model, x)
    assert [type(m) for m in folded] == [nn.Linear] and folded[0].in_features == 8
    assert _close(model, folded, x) < 1e-13 and folded.fold_report.layers_after == 1


@pytest.mark.parametrize("s1, d1, s2, d2, p1", [(1, 1, 1, 1, 0), (2, 1, 1, 1, 1), (1, 2, 2, 1, 0), (2, 1, 1, 2, 2)])
def test_conv_conv_rule(s1, d1, s2, d2, p1):
    torch.manual_seed(s1 + d1 + s2 + d2)
    model = nn.Sequential(nn.Conv2d(3, 5, 3, stride=s1, dilation=d1, padding=p1), nn.Conv2d(5, 4, 2, stride=s2, dilation=d2)).double()
    x = torch.randn(4, 3, 21, 21, dtype=torch.float64)
    folded, rep = fold_with_report(model, x, cheaper_only=False)  # the rule, whatever it costs
    assert len(folded) == 1 and isinstance(folded[0], nn.Conv2d)
    assert folded[0].kernel_size[0] == d1 * 2 + s1 * d2 * 1 + 1 and folded[0].stride[0] == s1 * s2
    assert _close(model, folded, x) < 1e-13


def test_conv_bn_avgpool_fold_and_padded_pair_is_left():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.AvgPool2d(2), nn.Conv2d(4, 4, 3, padding=1), nn.Flatten()).double().eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    x = torch.randn(4, 3, 12, 12, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert any("BatchNorm" in m for m in rep.merged) and any("AvgPool2d as a conv" in m for m in rep.merged)
    assert any("pads its input" in m for m in rep.left)
    assert _close(model, folded, x) < 1e-13 and rep.max_rel_error < 1e-13


def test_nested_sequential_in_a_custom_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 12), nn.Linear(12, 6))
            self.head = nn.Linear(6, 2)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)))

    torch.manual_seed(0)
    model = Net().double()
    x = torch.randn(8, 6, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert sum(isinstance(m, nn.Linear) for m in folded.modules()) == 2  # body's two Linears are one
    assert _close(model, folded, x) < 1e-13


def test_batchnorm1d_after_linear_on_3d_input_is_refused():
    """Was: merged on (N, 4, 5) inputs and 50 % off — BatchNorm1d normalises dim 1, the Linear the last."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)).eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model[1].weight.uniform_(0.5, 2)
    x3 = torch.randn(16, 4, 5)
    folded, rep = fold_with_report(model, x3)
    assert not rep.merged and any("different axes" in w for w in rep.left)
    assert _close(model.double(), folded.double(), x3.double()) == 0.0
    model = model.float()
    x2 = torch.randn(16, 5)  # on 2-D inputs the axes agree: merged, exactly
    folded, rep = fold_with_report(model, x2)
    assert len(rep.merged) == 1 and _close(model.double(), folded.double(), x2.double()) < 1e-6


def test_a_wrong_merge_is_refused_not_returned(monkeypatch):
    import actlab._folding as folding

    real = folding._linear_linear

    def broken(a, b):
        out = real(a, b)
        with torch.no_grad():
            out.bias.add_(1.0)
        return out

    monkeypatch.setattr(folding, "_linear_linear", broken)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    x = torch.randn(8, 4)
    folded, rep = fold_with_report(model, x)
    assert not rep.merged and any("differs from the pair" in w for w in rep.left)
    assert _close(model, folded, x) == 0.0


def test_fold_traces_custom_modules_with_functional_calls():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x))) + x.mean(dim=1, keepdim=True)

    torch.manual_seed(0)
    model = Block().double().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert rep.merged == ["conv + bn (BatchNorm, eval) → one Conv2d"]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert _close(model, folded, x) < 1e-13


def test_a_dearer_merge_is_left_by_default_and_said_when_asked_for():
    """Two 3×3 convs on a large image would merge into a dearer 5×5: left, with the reason; with
    cheaper_only=False merged, and the report says it is dearer."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3)).double()
    x = torch.randn(2, 8, 32, 32, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert not rep.merged and any("multiply-adds" in w for w in rep.left) and len(folded) == 2
    assert rep.macs_after == rep.macs_before
    folded, rep = fold_with_report(model, x, cheaper_only=False)
    assert len(rep.merged) == 1 and "dearer" in rep.merged[0] and "multiply-adds" in rep.merged[0]
    assert rep.macs_after > rep.macs_before


def _random_bn(bn, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        n = bn.num_features
        bn.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
        bn.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
        if bn.affine:
            bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
            bn.bias.copy_(torch.rand(n, generator=g) - 0.5)
    return bn


def _n_bn(m):
    return sum(isinstance(q, nn.modules.batchnorm._BatchNorm) for q in m.modules())


@pytest.mark.parametrize("groups", [1, 2])
def test_convtranspose_then_batchnorm_merges(groups):
    """torch.ao's fuse_modules fuses ConvTranspose2d + BatchNorm2d: a decoder block written as
    its users write it (modules as attributes, an in-place ReLU) now folds too."""

    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.deconv = nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=groups, bias=False)
            self.bn = _random_bn(nn.BatchNorm2d(6))
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.act(self.bn(self.deconv(x)))

    torch.manual_seed(groups)
    model = Up().double().eval()
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert rep.merged == ["deconv + bn (BatchNorm, eval) → one ConvTranspose2d"] and _n_bn(folded) == 0
    assert _close(model, folded, x) < 1e-13 and rep.max_rel_error < 1e-13
    assert rep.macs_after < rep.macs_before and rep.params_after < rep.params_before


def test_batchnorm_before_linear_merges_on_2d_inputs():
    """Asked for in PyTorch's issues (BatchNorm before a Linear): a tabular MLP with an input
    BatchNorm1d."""

    class Tabular(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn_in = _random_bn(nn.BatchNorm1d(7))
            self.fc1 = nn.Linear(7, 16)
            self.fc2 = nn.Linear(16, 1)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(self.bn_in(x))))

    model = Tabular().double().eval()
    x = torch.randn(32, 7, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert rep.merged == ["bn_in + fc1 (BatchNorm before it, eval) → one Linear"] and _n_bn(folded) == 0
    assert _close(model, folded, x) < 1e-13


def test_batchnorm_before_conv_merges_unless_zero_padding_would_differ():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 10, 10, dtype=torch.float64)
    for padding, mode, merges in ((0, "zeros", True), (1, "reflect", True), (1, "zeros", False)):
        model = nn.Sequential(_random_bn(nn.BatchNorm2d(3)), nn.Conv2d(3, 5, 3, padding=padding, padding_mode=mode)).double().eval()
        folded, rep = fold_with_report(model, x)
        assert bool(rep.merged) == merges, (padding, mode, rep)
        if not merges:
            assert any("zero-pads its input" in w for w in rep.left)
        assert _close(model, folded, x) < 1e-13


def test_functional_batch_norm_linear_and_conv_calls_merge():
    """F.batch_norm on buffers (a frozen BatchNorm, as detection code writes it), F.linear and
    F.conv2d on parameters: seen as the layers they are."""

    class FrozenBN(nn.Module):
        def __init__(self, n):
            super().__init__()
            for name, v in (("weight", torch.rand(n) + 0.5), ("bias", torch.rand(n) - 0.5),
                            ("running_mean", torch.rand(n) - 0.5), ("running_var", torch.rand(n) + 0.5)):
                self.register_buffer(name, v)

        def forward(self, x):
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, 1e-5)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, bias=False)
            self.frozen = FrozenBN(4)
            self.w2 = nn.Parameter(torch.randn(6, 4, 1, 1))
            self.bn2 = _random_bn(nn.BatchNorm2d(6))
            self.w3 = nn.Parameter(torch.randn(5, 6 * 4 * 4))
            self.b3 = nn.Parameter(torch.randn(5))
            self.bn3 = _random_bn(nn.BatchNorm1d(5))

        def forward(self, x):
            h = torch.relu(self.frozen(self.conv(x)))
            h = torch.relu(self.bn2(F.conv2d(h, self.w2)))
            return self.bn3(F.linear(h.flatten(1), self.w3, self.b3))

    torch.manual_seed(0)
    model = Net().double().eval()
    x = torch.randn(8, 3, 6, 6, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert len(rep.merged) == 3, rep.merged
    assert any("F.conv2d" in m for m in rep.merged) and any("F.linear" in m for m in rep.merged)
    assert _close(model, folded, x) < 1e-13
    assert _n_bn(folded) == 0 and "batch_norm" not in folded.code
    assert rep.params_after < rep.params_before  # the functional weights moved, not copied


def test_a_module_called_on_two_paths_is_merged_per_call_site():
    """One conv used twice, once followed by a BatchNorm: torch.fx's fuse merges the BatchNorm
    into the shared conv and changes the other path too (its tracker labels it silently wrong).
    Here the BatchNorm path gets a merged layer of its own and the other keeps the original."""

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = _random_bn(nn.BatchNorm2d(4))

        def forward(self, x):
            return self.conv(x) + self.bn(self.conv(x.flip(-1)))

    torch.manual_seed(0)
    model = Shared().double().eval()
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert len(rep.merged) == 1 and "called elsewhere too" in rep.merged[0]
    assert _close(model, folded, x) < 1e-13 and rep.max_rel_error < 1e-13
    assert _n_bn(folded) == 0 and isinstance(folded.conv, nn.Conv2d)
    torch.testing.assert_close(folded.conv.weight, model.conv.weight, rtol=0, atol=0)  # untouched for the other path


def test_linear_bottleneck_is_left_unless_asked():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(100, 2), nn.Linear(2, 100)).double()
    x = torch.randn(8, 100, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert not rep.merged and len(folded) == 2
    assert any("10,000 multiply-adds per sample, the pair 400" in w for w in rep.left)
    folded, rep = fold_with_report(model, x, cheaper_only=False)
    assert len(folded) == 1 and "dearer" in rep.merged[0] and rep.macs_after == 10_000 and rep.macs_before == 400
    assert _close(model, folded, x) < 1e-13


def test_grouped_convolutions():
    """Depthwise then pointwise merges into a dense conv — dearer for many channels (left, and
    said), cheaper for few (merged); a grouped conv with a BatchNorm, and two grouped convs with
    the same groups, merge exactly and stay grouped."""
    torch.manual_seed(0)
    x = torch.randn(2, 16, 12, 12, dtype=torch.float64)
    separable = nn.Sequential(nn.Conv2d(16, 16, 3, groups=16), nn.Conv2d(16, 32, 1)).double()
    folded, rep = fold_with_report(separable, x)
    assert not rep.merged and any("grouped pair merges into a dense conv" in w for w in rep.left)
    folded, rep = fold_with_report(separable, x, cheaper_only=False)
    assert len(folded) == 1 and folded[0].groups == 1 and _close(separable, folded, x) < 1e-13
    few = nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.Conv2d(2, 1, 1)).double()  # 2·9 + 2 against 2·9 per pixel
    x2 = torch.randn(2, 2, 9, 9, dtype=torch.float64)
    folded, rep = fold_with_report(few, x2)
    assert len(folded) == 1 and rep.macs_after < rep.macs_before and _close(few, folded, x2) < 1e-13
    dw_bn = nn.Sequential(nn.Conv2d(16, 16, 3, groups=16, bias=False), _random_bn(nn.BatchNorm2d(16))).double().eval()
    folded, rep = fold_with_report(dw_bn, x)
    assert len(folded) == 1 and folded[0].groups == 16 and _close(dw_bn, folded, x) < 1e-13
    gg = nn.Sequential(nn.Conv2d(16, 8, 1, groups=4), nn.Conv2d(8, 8, 3, groups=4, stride=2)).double()
    folded, rep = fold_with_report(gg, x, cheaper_only=False)
    assert len(folded) == 1 and folded[0].groups == 4 and _close(gg, folded, x) < 1e-13


def test_an_untraceable_model_is_folded_inside_its_sequentials():
    """Was: the fallback's pre-hook returned the input it kept, which torch treats as a new
    input of the wrong form — every model torch.fx cannot trace raised instead of folding."""

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 12), nn.Linear(12, 6))

        def forward(self, x):
            h = self.body(x)
            return h if float(h.sum()) > -1e9 else -h  # data-dependent control flow: no trace

    torch.manual_seed(0)
    model = Branchy().double()
    x = torch.randn(8, 6, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert any("could not trace" in w for w in rep.left) and len(rep.merged) == 1
    assert isinstance(folded.body, nn.Sequential) and len(folded.body) == 1 and _close(model, folded, x) < 1e-13
