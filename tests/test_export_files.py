"""torch.export archives as people export them: at a fixed batch of 1, a fixed batch of N, and a
dynamic batch, of a dense, a conv and a residual net. Each audits and folds on batches of any
size; the weights are never varied as data (the first nonlinear node is the ReLU); the folded
archive equals the original; the FLOP count equals the eager module's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actlab.analysis.audit import audit
from actlab.analysis.fold import fold_with_report
from actlab.analysis._exported import FixedBatch
from actlab.analysis.cost import count_macs
from actlab.analysis.load import load_model
from actlab.cli import main


class Dense(nn.Module):
    def __init__(self, act: bool):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2)
        self.act = act

    def forward(self, x):
        h = self.b(self.a(x))
        return self.c(torch.relu(h) if self.act else h)


class Conv(nn.Module):
    """A conv, its BatchNorm, a ReLU (or not) and a Linear; ``baked``: a reshape to the traced batch."""

    def __init__(self, act: bool, baked: bool = False):
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4 * 6 * 6, 2)
        self.act, self.baked = act, baked
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        h = self.bn(self.conv(x))
        h = torch.relu(h) if self.act else h
        return self.fc(h.reshape(1 if self.baked else x.shape[0], -1) if self.baked else h.flatten(1))


class Residual(nn.Module):
    def __init__(self, act: bool):
        super().__init__()
        self.c1, self.c2, self.fc = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Linear(4 * 8 * 8, 2)
        self.bn = nn.BatchNorm2d(4).eval()
        self.act = act

    def forward(self, x):
        h = self.c1(x)
        h = h + self.bn(self.c2(torch.relu(h) if self.act else h))
        return self.fc(h.flatten(1))


NETS = {"dense": (Dense, (4,)), "conv": (Conv, (3, 8, 8)), "residual": (Residual, (3, 8, 8))}
FORMS = ("batch1", "batch3", "dynamic")


def _export(tmp_path, net: str, act: bool, form: str, **kw) -> tuple[str, nn.Module, tuple]:
    cls, shape = NETS[net]
    torch.manual_seed(0)
    model = cls(act, **kw).eval()
    n = {"batch1": 1, "batch3": 3, "dynamic": 2}[form]
    dyn = ({0: torch.export.Dim("batch")},) if form == "dynamic" else None
    ep = torch.export.export(model, (torch.randn(n, *shape),), dynamic_shapes=dyn)
    path = str(tmp_path / f"{net}-{form}-{act}.pt2")
    torch.export.save(ep, path)
    return path, model, shape


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("form", FORMS)
def test_an_exported_relu_net_is_judged_nonlinear_at_its_relu(tmp_path, net, form):
    path, model, shape = _export(tmp_path, net, True, form)
    loaded = load_model(path)
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(loaded(x), model(x))  # any batch, whatever it was exported with
    report = audit(loaded, x)
    assert not report.is_affine
    assert report.first_nonlinear.split(":")[-1] == "relu_default"
    assert [n["target"] for n in report.nodes] == ["relu.default"]  # no linear node, its weights held still


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("form", FORMS)
def test_an_exported_affine_net_is_affine_and_folds_to_an_equal_cheaper_archive(tmp_path, net, form, capsys):
    path, model, shape = _export(tmp_path, net, False, form)
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(2))
    loaded = load_model(path)
    assert audit(loaded, x).is_affine
    folded, report = fold_with_report(loaded, x)
    assert report.merged, report.left
    assert report.macs_before == count_macs(model, x)  # the graph's count is the eager module's
    assert report.macs_after == count_macs(folded, x) < report.macs_before
    torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-5)
    out = tmp_path / "folded.pt2"
    dims = ",".join(map(str, shape))
    assert main(["fold", path, "--input-shape", dims, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "merged:" in printed and "FLOPs per sample 0" not in printed
    again = load_model(str(out))
    torch.testing.assert_close(again(x), model(x), rtol=1e-4, atol=1e-5)


def test_a_batch_baked_into_the_graph_runs_in_slices_of_it(tmp_path, capsys):
    """reshape(1, -1) exported at batch 1: the graph only runs on one row; slices of 1 row it is."""
    path, model, shape = _export(tmp_path, "conv", True, "batch1", baked=True)
    loaded = load_model(path)
    assert isinstance(loaded, FixedBatch) and loaded.batch == 1
    x = torch.randn(5, *shape, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(loaded(x), torch.cat([model(r[None]) for r in x]))
    assert audit(loaded, x).first_nonlinear.split(":")[-1] == "relu_default"
    out = tmp_path / "baked-folded.pt2"
    assert main(["fold", path, "--input-shape", "3,8,8", "--out", str(out)]) == 0
    assert "folded 3 → 2 layers" in capsys.readouterr().out
    torch.testing.assert_close(load_model(str(out))(x), loaded(x), rtol=1e-4, atol=1e-5)


def test_the_audit_cli_on_an_exported_batch_of_one(tmp_path, capsys):
    path, _, _ = _export(tmp_path, "dense", True, "batch1")
    assert main(["audit", path, "--input-shape", "4"]) == 0
    out = capsys.readouterr()
    assert "first nonlinear = relu_default" in out.out and "Guard failed" not in out.out + out.err
    assert "FutureWarning" not in out.err
