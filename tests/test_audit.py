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


@pytest.mark.parametrize("model, node", [(_Functional(), "relu"), (_Product(), "mul")])
def test_functional_nonlinearity_is_caught_and_attributed(model, node):
    torch.manual_seed(1)
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
