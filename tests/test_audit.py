"""audit: per-module verdicts against known answers; functional nonlinearity is caught."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actlab.analysis.audit import audit


def test_maxpool_between_linear_layers_is_named_first():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 16), nn.Unflatten(1, (1, 16)), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(8, 2))
    r = audit(model, torch.randn(32, 8))
    assert not r.is_affine and r.first_nonlinear == "3" and r.map is None
    rows = {x.name: x for x in r.rows}
    assert rows["3"].owns_nonlinearity and not rows["3"].affine
    assert rows["0"].affine and rows["5"].affine and not rows[""].owns_nonlinearity


def test_all_affine_model_collapses():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.AvgPool2d(2), nn.Dropout(0.3), nn.Conv2d(4, 5, 3, padding=1),
        nn.Flatten(), nn.Linear(5 * 6 * 6, 3),
    ).eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    x = torch.randn(16, 3, 14, 14)
    r = audit(model, x)
    assert r.is_affine and r.first_nonlinear is None and all(row.affine for row in r.rows)
    xt = torch.randn(8, 3, 14, 14, dtype=torch.float64)
    with torch.no_grad():
        ref = model.double()(xt)
    rel = (r.map(xt) - ref).abs().max() / ref.abs().max()
    assert rel <= 1e-10


class _Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 8), nn.Linear(8, 2)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


class _Product(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

    def forward(self, x):
        return self.a(x) * self.b(x)


@pytest.mark.parametrize("cls, node", [(_Functional, "relu"), (_Product, "mul")])
def test_functional_nonlinearity_is_caught_and_attributed(cls, node):
    torch.manual_seed(1)  # before the module is built: its weights are the article's
    model = cls()
    r = audit(model, torch.randn(32, 4))
    assert not r.is_affine
    assert [n["node"] for n in r.nodes] == [node] and r.first_nonlinear == node


def test_batchnorm_training_mode_is_nonlinear():
    r = audit(nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).train(), torch.randn(16, 4))
    assert not r.is_affine and r.first_nonlinear == "1"


def test_bad_input():
    with pytest.raises(ValueError, match="the model raised on example inputs of shape"):
        audit(nn.Linear(3, 2), torch.randn(8, 4))
    with pytest.raises(ValueError, match="batch of at least 2"):
        audit(nn.Linear(3, 2), torch.randn(3))
    with pytest.raises(TypeError, match="nn.Module"):
        audit(lambda x: x, torch.randn(4, 3))


# ---- regressions (issue: audit and fold on the models people use)


def test_saturated_hardtanh_gives_one_consistent_answer():
    """Was: is_affine=True and first_nonlinear='1' at once (module 1 judged by a map at 0)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Hardtanh())
    with torch.no_grad():
        model[0].bias.fill_(10.0)  # every input saturates the hardtanh at +1
    r = audit(model, torch.rand(16, 3))
    assert r.is_affine and r.first_nonlinear is None
    row = {x.name: x for x in r.rows}["1"]
    assert row.affine and "saturated" in row.reason  # the reason follows the verdict


def test_relu_net_in_one_linear_region_is_affine_on_its_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.abs_()
        model[0].bias.fill_(5.0)  # positive inputs stay on the positive side of every kink
    x = torch.rand(32, 3)
    r = audit(model, x)
    assert r.is_affine and r.first_nonlinear is None and r.map.verified
    assert not audit(model, torch.randn(32, 3) * 10).is_affine  # data across the kinks


def test_inplace_relu_does_not_corrupt_recorded_values():
    """Hooks keep clones: an in-place ReLU after a tested module used to overwrite its output."""

    class Proj(nn.Module):  # affine, but not by construction: it is tested on what it received
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(6, 4))

        def forward(self, x):
            return F.linear(x, self.w)

    torch.manual_seed(0)
    model = nn.Sequential(Proj(), nn.ReLU(inplace=True), nn.Linear(6, 2))
    r = audit(model, torch.randn(32, 4))
    rows = {x.name: x for x in r.rows}
    assert rows["0"].tested and rows["0"].affine and r.first_nonlinear == "1"


class _ReluThenPool(nn.Module):
    """A functional ReLU in the model's own code runs before the max-pool module."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.pool = nn.MaxPool1d(2)

    def forward(self, x):
        x = F.relu(self.a(x))
        return self.pool(x.unsqueeze(1)).flatten(1)


def test_first_owner_is_first_in_execution_order():
    torch.manual_seed(0)
    r = audit(_ReluThenPool(), torch.randn(16, 8))
    assert r.first_nonlinear == "relu"  # not "pool", which a by-module order would name
    assert {x.name: x for x in r.rows}["pool"].owns_nonlinearity


def test_first_owner_is_a_child_not_the_root():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(4, 8)
            self.norm = nn.LayerNorm(8)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            h = self.embed(x)
            return self.head(self.norm(h + 1.0))

    torch.manual_seed(0)
    r = audit(Net(), torch.randn(16, 4))
    assert r.first_nonlinear == "norm" and not {x.name: x for x in r.rows}[""].owns_nonlinearity


def test_batch_mixing_affine_module_is_judged_as_a_whole():
    """Whole tensors with one α: an affine module that mixes its batch rows is affine."""

    class Center(nn.Module):
        def forward(self, x):
            return x - x.mean(dim=0, keepdim=True) + 0.5 * x.flip(0)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), Center(), nn.Tanh())
    r = audit(model, torch.randn(16, 4))
    assert {x.name: x for x in r.rows}["1"].affine and r.first_nonlinear == "2"


def test_audit_domain_and_timing_are_reported():
    r = audit(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), torch.randn(8, 4))
    assert "8 example inputs" in r.domain and r.seconds > 0
    d = r.to_dict()
    assert d["first_nonlinear"] == "1" and [m["name"] for m in d["modules"]] == ["", "0", "1"]


def test_max_bytes_skips_the_map_with_a_note():
    r = audit(nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64)), torch.randn(8, 64), max_bytes=1000)
    assert r.is_affine and r.map is None and "max_bytes" in r.note


def test_module_maps_when_asked():
    torch.manual_seed(0)

    class Proj(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 5))

        def forward(self, x):
            return F.linear(x, self.w) + 1.0

    model = nn.Sequential(Proj(), nn.ReLU())
    x = torch.randn(16, 5)
    r = audit(model, x, module_maps=True)
    m = {row.name: row for row in r.rows}["0"].map
    assert m is not None and m.verified
    assert torch.allclose(m.weight, model[0].w.double()) and torch.allclose(m.bias, torch.ones(3, dtype=torch.float64))
