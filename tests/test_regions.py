"""actlab.regions against oracles: the model itself at points inside every region, the
activation patterns a fine grid sees, the box's area, closed-form counts (Telgarsky's sawtooth,
a one-hidden-layer net on a line)."""


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actlab
from actlab.analysis.regions import NotPiecewiseLinearError, TooManyRegionsError, regions
from actlab.nets import Act
from actlab.train import Maxout


def _points_inside(r, per_region: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random convex combinations of each region's vertices (strictly inside), with the region."""
    rng = np.random.default_rng(seed)
    pts, owner = [], []
    for i, poly in enumerate(r.polygons):
        w = rng.dirichlet(np.ones(len(poly)), size=per_region)  # (m, k)
        pts.append(w @ poly)
        owner += [i] * per_region
    return np.concatenate(pts), np.array(owner)


def _model_at(model, pts, plane=None) -> np.ndarray:
    x = torch.as_tensor(pts, dtype=torch.float64)
    if plane is not None:
        o, u, v = (torch.as_tensor(t, dtype=torch.float64) for t in plane)
        x = o + x[:, 0].reshape(-1, *([1] * o.ndim)) * u + x[:, 1].reshape(-1, *([1] * o.ndim)) * v
    with torch.no_grad():
        return model.double()(x).reshape(len(pts), -1).numpy()


def _check_maps(model, r, plane=None, tol=1e-12):
    pts, owner = _points_inside(r)
    got = np.einsum("noi,ni->no", r.weight[owner], pts) + r.bias[owner]
    ref = _model_at(model, pts, plane)
    scale = max(1.0, np.abs(ref).max())
    assert np.abs(got - ref).max() <= tol * scale


def _mlp(widths, act=nn.ReLU, seed=0):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), act()]
    return nn.Sequential(*layers[:-1])


@pytest.mark.parametrize("act", [nn.ReLU, lambda: nn.LeakyReLU(0.1), nn.PReLU, nn.ReLU6, nn.Hardtanh, nn.Hardsigmoid,
                                 lambda: Act("abs"), lambda: Act("relu")])
def test_each_region_map_equals_the_model_and_areas_fill_the_box(act):
    model = _mlp([2, 6, 5, 2], act, seed=1)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3)  # kinks inside the box for the saturating ones too
    r = regions(model, (-3, 3, -2, 2))
    assert r.count > 5
    assert r.area.sum() == pytest.approx(24.0, rel=1e-9) and (r.area > 0).all()  # counter-clockwise, no overlap
    _check_maps(model, r)


def test_every_pattern_a_fine_grid_sees_is_a_region():
    """The grid's patterns, computed from the model's own pre-activations, are exactly the
    patterns of the regions its points fall in."""
    model = _mlp([2, 8, 8, 1], seed=3)
    r = regions(model)
    a = np.linspace(-5.99, 5.99, 160)
    pts = np.stack(np.meshgrid(a, a), -1).reshape(-1, 2)
    x = torch.as_tensor(pts)
    m = model.double()
    with torch.no_grad():
        z1 = m[0](x)
        z2 = m[2](torch.relu(z1))
    grid_patterns = torch.cat([(z1 > 0), (z2 > 0)], dim=1).numpy().astype(np.int8)
    where = r.locate(pts)
    assert (where >= 0).all()
    np.testing.assert_array_equal(r.pattern[where], grid_patterns)
    assert len({row.tobytes() for row in grid_patterns}) <= r.count


def test_telgarsky_sawtooth_has_2_to_the_L_pieces():
    """L layers of 2 ReLUs, each the tent map t(x) = 2 relu(x) − 4 relu(x − ½) on [0, 1]: 2^L pieces
    (Telgarsky 2016), where one hidden layer of 2L units makes at most 2L + 1."""
    for L in (1, 3, 6):
        layers = []
        for _ in range(L):
            first, second = nn.Linear(1, 2), nn.Linear(2, 1)
            with torch.no_grad():
                first.weight.copy_(torch.tensor([[1.0], [1.0]]))
                first.bias.copy_(torch.tensor([0.0, -0.5]))
                second.weight.copy_(torch.tensor([[2.0, -4.0]]))
                second.bias.zero_()
            layers += [first, nn.ReLU(), second]
        model = nn.Sequential(*layers)
        plane = ([0.0], [1.0], [0.0])
        r = regions(model, (0.0, 1.0, 0.0, 1.0), plane=plane)
        assert r.count == 2**L
        _check_maps(model, r, plane)


@pytest.mark.parametrize("n", [1, 5, 20])
def test_one_hidden_layer_on_a_line_has_at_most_n_plus_1_pieces(n):
    torch.manual_seed(n)
    model = nn.Sequential(nn.Linear(1, n), nn.ReLU(), nn.Linear(n, 1))
    plane = ([0.0], [1.0], [0.0])
    r = regions(model, (-3, 3, 0, 1), plane=plane)
    kinks = -model[0].bias.detach() / model[0].weight.detach()[:, 0]
    inside = ((kinks > -3) & (kinks < 3)).sum().item()
    assert r.count == inside + 1 <= n + 1  # a kink inside the interval splits it once


def test_maxout_and_maxpool_and_a_conv_net_on_a_plane():
    torch.manual_seed(0)
    maxout = nn.Sequential(nn.Linear(2, 6), Maxout(3), nn.Linear(2, 4), Maxout(2), nn.Linear(2, 1))
    r = regions(maxout, (-4, 4, -4, 4))
    assert r.count > 2
    _check_maps(maxout, r)
    conv = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 2, 3),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2, 3)).eval()
    g = torch.Generator().manual_seed(1)
    plane = (torch.randn(1, 8, 8, generator=g), torch.randn(1, 8, 8, generator=g), torch.randn(1, 8, 8, generator=g))
    r = regions(conv, (-0.3, 0.3, -0.3, 0.3), plane=plane)
    assert r.count > 10 and r.weight.shape[1:] == (3, 2)
    _check_maps(conv, r, plane)


def test_a_module_written_with_attributes_and_functional_calls():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.out = nn.Linear(2, 6), nn.Linear(6, 6), nn.Linear(6, 1)

        def forward(self, x):
            return self.out(F.leaky_relu(self.fc2(torch.relu(self.fc1(x))), 0.2))

    torch.manual_seed(2)
    model = Net()
    r = regions(model)
    _check_maps(model, r)


def test_the_decision_boundary_is_the_level_set():
    model = _mlp([2, 8, 8, 1], seed=4)
    r = regions(model)
    level = float(np.median(r.bias[:, 0]))
    lines = r.boundary(level)
    assert lines
    pts = np.concatenate(lines)
    np.testing.assert_allclose(_model_at(model, pts)[:, 0], level, atol=1e-10)


def test_linear_activations_make_one_region():
    model = _mlp([2, 5, 5, 1], nn.Identity)
    r = regions(model)
    assert r.count == 1
    m = actlab.collapse(model, in_shape=(2,))
    np.testing.assert_allclose(r.weight[0], m.weight.numpy(), atol=1e-14)


def test_refusals():
    with pytest.raises(NotPiecewiseLinearError, match=r"1 \(Tanh\) is not piecewise linear"):
        regions(_mlp([2, 4, 1], nn.Tanh))
    with pytest.raises(NotPiecewiseLinearError, match="gelu"):
        regions(nn.Sequential(nn.Linear(2, 4), Act("gelu"), nn.Linear(4, 1)))
    with pytest.raises(TooManyRegionsError, match="grid of the box already sees"):
        regions(_mlp([2, 16, 16, 1]), max_regions=20)
    with pytest.raises(ValueError, match="bounds must be"):
        regions(_mlp([2, 4, 1]), (1, 0, 0, 1))
    with pytest.raises(ValueError, match="plane's origin, u and v must have one shape"):
        regions(_mlp([3, 4, 1]), plane=([0, 0, 0], [1, 0], [0, 1, 0]))

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return x + torch.relu(self.fc(x))

    with pytest.raises(NotPiecewiseLinearError, match="not a step of a chain"):
        regions(Residual())


def test_geometry_measurements_against_their_closed_forms():
    from actlab.experiments import geometry as g

    rows = g.depth_vs_width((1, 4, 7))
    assert [r["deep_pieces"] for r in rows] == [2, 16, 128]  # 2^L
    assert all(r["shallow_pieces"] <= r["shallow_bound"] == r["units"] + 1 for r in rows)
    hr = g.hanin_rolnick(budgets=(8,), depths=(1, 2), n_seeds=5)
    assert [(r["neurons"], r["depth"], r["width"]) for r in hr] == [(8, 1, 8), (8, 2, 4)]
    assert all(1 <= r["regions_median"] <= 1 + 8 + 28 for r in hr if r["depth"] == 1)  # ≤ 1 + n + C(n, 2) lines' cells
    xr = g.xor_regions(("relu",), n_seeds=12)
    assert xr[0]["regions_solved"]["n"] + xr[0]["regions_failed"]["n"] == 12


def test_hidden_space_boundary_is_the_models_level_set():
    """In the last hidden layer the output is affine: the points the net puts at ½ lie on the line."""
    from actlab import datasets, train
    from actlab.experiments import geometry as g

    data = datasets.make("xor")
    for hidden in ((2,), (5,)):  # the plane itself, and a PCA plane
        cfg = train.TrainConfig(hidden=hidden, activation="tanh", n_steps=500, dtype="float64")
        run = train.train(cfg, data.X, data.y, [3])
        h = g.hidden_space(cfg, run.params[0], data.X, data.y)
        model = train.to_module(cfg, run.params[0], 2)
        pts, n, c = np.asarray(h["data"]), np.asarray(h["boundary_normal"]), h["boundary_offset"]
        out = model(torch.as_tensor(data.X)).detach().numpy()[:, 0]
        if hidden == (2,):  # exact: output − ½ = n·h − c
            np.testing.assert_allclose(pts @ n - c, out - 0.5, atol=1e-12)
        assert h["projection"] == ("the hidden plane" if hidden == (2,) else "PCA")


def test_regions_command(tmp_path, capsys):
    import json

    from actlab.cli import main

    assert main(["regions", "--layers", "2,6,6,1", "--seeds", "3", "--steps", "50", "--json", "--out", str(tmp_path / "r")]) == 0
    d = json.loads(capsys.readouterr().out)["net"]
    assert d["layers"] == [2, 6, 6, 1] and d["regions"]["n"] == 3 and d["first"]["count"] >= 1
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["regions.png", "results.json"]
    for argv, expected in ((["regions", "--layers", "3,4,1"], "start with 2 inputs"),
                           (["regions", "--layers", "2,4,1", "--activation", "tanh"], "not piecewise linear")):
        assert main(argv) == 2
        assert expected in capsys.readouterr().err


def test_plot_draws_every_region_and_the_boundary():
    import matplotlib

    matplotlib.use("Agg")
    model = _mlp([2, 6, 1], seed=5)
    r = regions(model)
    ax = r.plot(level=float(np.median(r.bias[:, 0])))
    assert ax.get_title() == f"{r.count:,} linear regions" and len(ax.collections[0].get_paths()) == r.count
    assert len(ax.lines) == len(r.boundary(float(np.median(r.bias[:, 0]))))
