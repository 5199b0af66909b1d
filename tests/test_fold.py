"""fold: folded outputs equal the original's in float64; what cannot merge is left and said."""

import pytest
import torch
from torch import nn

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
    folded, rep = fold_with_report(model, x)
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


def test_a_dearer_merge_says_so():
    """Was: two 3×3 convs on a large image merged into a dearer 5×5 without a word."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3)).double()
    x = torch.randn(2, 8, 32, 32, dtype=torch.float64)
    folded, rep = fold_with_report(model, x)
    assert len(rep.merged) == 1 and "dearer" in rep.merged[0] and "multiply-adds" in rep.merged[0]
    folded, rep = fold_with_report(model, x, cheaper_only=True)
    assert not rep.merged and any("multiply-adds" in w for w in rep.left) and len(folded) == 2
