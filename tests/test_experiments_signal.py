"""``actlab signal``: each mean-field prediction against real networks, over seeds — the JSON
complete, each measured row against its prediction, the command's files and errors."""

import json
import math

import pytest
import torch
from torch import nn

import actlab
from actlab import datasets
from actlab import train as tr
from actlab.cli import main
from actlab.experiments import signal as es
from actlab.theory import derivative_moments, jacobian_variance

QUICK = es.preset("quick")


@pytest.fixture(scope="module")
def quick():
    return es.run_signal(QUICK).to_dict()


def test_json_is_complete_and_cells_are_consistent(quick):
    pd = quick["phase_diagram"]
    assert {"activation", "sigma_b2", "dataset", "sigma_w2", "depths", "xi_c", "trained", "seeds", "steps"} <= set(pd)
    assert len(pd["trained"]) == len(pd["sigma_w2"]) == len(pd["xi_c"]) and all(len(r) == len(pd["depths"]) for r in pd["trained"])
    for i, x in enumerate(pd["xi_c"]):
        xi = math.inf if x is None else x
        assert xi == pytest.approx(actlab.signal(pd["activation"], pd["sigma_w2"][i], pd["sigma_b2"]).xi_c)
        for j, d in enumerate(pd["depths"]):
            f, (lo, hi) = pd["trained"][i][j], pd["trained_ci"][i][j]
            assert f * pd["seeds"] == round(f * pd["seeds"]) and lo <= f <= hi
            assert pd["predicted_trainable"][i][j] == (d <= 6 * xi)
            assert pd["agrees"][i][j] == ((f >= 0.5) == pd["predicted_trainable"][i][j])
    assert pd["xi_c"][pd["sigma_w2"].index(1.761)] is None  # the edge: ξ_c = ∞
    assert all(t == 1.0 for t in (r[0] for r in pd["trained"]))  # two layers always train: depth is not the difficulty
    assert {"gradients", "isometry", "regions_at_init", "regions_signal", "theory"} <= set(quick)
    json.dumps(quick, allow_nan=False)  # no ∞ or NaN left in the JSON


def test_phase_diagram_cells_are_train_many_runs_judged_on_their_own_accuracy():
    """One cell recomputed by hand: the same nets by train_many, the accuracy from forward."""
    cfg = es.SignalConfig(sigma_w2s=(0.5, 8.0), depths=(12,), width=8, seeds=2, steps=50, rows=64)
    pd = es.phase_diagram(cfg)
    X, y = datasets.digits_parity(64, 0)
    for i, w2 in enumerate(cfg.sigma_w2s):
        c = tr.TrainConfig(hidden=(8,) * 12, activation="tanh", init="gaussian", sigma_w2=w2, sigma_b2=0.05, optimizer="sgd",
                           lr=0.05, n_steps=50, loss="bce", record_every=0)
        run = tr.train(c, X, y, torch.arange(2))
        acc = ((tr.forward(c, run.params, torch.tensor(X, dtype=torch.float32)) > 0).float()
               == torch.tensor(y, dtype=torch.float32)).float().mean(1)
        assert pd["trained"][i][0] == float((acc >= 0.9).float().mean())


def test_gradients_follow_chi1_to_the_power_of_the_layers_left(quick):
    """Every measured row within a factor of 2 of χ₁^(L−l) (measured ≈ 1.15 at worst)."""
    keys = set()
    for g in quick["gradients"]:
        keys.add((g["activation"], g["init"]))
        assert g["predicted"] == pytest.approx(g["chi1"] ** (g["depth"] - g["layer"]))
        assert 0.5 <= g["measured"] / g["predicted"] <= 2.0, g
    assert keys == {(a, i) for a, i, _, _ in es.GRADIENT_POINTS}
    sig = [g for g in quick["gradients"] if g["activation"] == "sigmoid" and g["layer"] == 1][0]
    assert sig["chi1"] < 0.1 and sig["measured"] < 1e-5  # Glorot's sigmoid: the first layers get almost nothing


def test_isometry_rows_follow_the_law(quick):
    rows = {(r["activation"], r["init"], r["depth"]): r for r in quick["isometry"]}
    for (act, init, depth), r in rows.items():
        assert r["predicted_variance"] == pytest.approx(jacobian_variance(act, depth, r["sigma_b2"], dist=init,
                                                                          sigma_w2=r["sigma_w2"]))
        assert r["width"] >= 100 * depth and abs(r["mean_eigenvalue"] - 1) < 0.2
        if act in ("linear", "relu") and not (act == "linear" and init == "orthogonal"):
            assert r["variance"] == pytest.approx(r["predicted_variance"], rel=0.3)
    assert all(rows[("linear", "orthogonal", d)]["variance"] < 1e-9 for d in QUICK.iso_depths)  # exact isometry


def test_regions_under_he_hold_with_depth_and_fall_under_torch_default(quick):
    med = {(r["init"], r["neurons"], r["depth"]): r["median"] for r in quick["regions_at_init"]}
    n, (d1, d4) = QUICK.reg_neurons[0], QUICK.reg_depths
    assert med[("he", n, d4)] >= 0.6 * med[("he", n, d1)]
    assert med[("torch_default", n, d4)] < 0.5 * med[("he", n, d4)]
    last = {r["init"]: r for r in quick["regions_signal"]}
    assert last["torch_default"]["bias_share"] > 0.5 > last["he"]["bias_share"]
    for r in quick["regions_signal"]:
        if r["init"] == "torch_default":  # the q map layer by layer against the nets themselves
            assert r["q_measured"] == pytest.approx(r["q_predicted"], rel=0.15)


def test_jacobian_is_torch_func_jacrev():
    from torch.func import jacrev

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 20), nn.Tanh(), nn.Linear(20, 20), nn.Tanh())
    x = torch.randn(20)
    J = jacrev(net)(x).double()
    eig = torch.linalg.eigvalsh(J @ J.T)
    torch.testing.assert_close(es._jacobian_eigs(net, x), eig, rtol=1e-5, atol=1e-6)


def test_jacobian_variance_closed_forms():
    """Pennington et al.: linear L and 0, relu 2L and L; hard-tanh L/p and L(1/p − 1) with p =
    P(|h| < 1) at q*; μ₁, μ₂ against Monte Carlo for tanh."""
    for L in (1, 3, 8):
        assert jacobian_variance("linear", L) == pytest.approx(L)
        assert jacobian_variance("linear", L, dist="orthogonal") == pytest.approx(0.0, abs=1e-12)
        assert jacobian_variance("relu", L) == pytest.approx(2 * L)
        assert jacobian_variance("relu", L, dist="orthogonal") == pytest.approx(L)
    q = actlab.signal("hardtanh", actlab.critical_sigma_w2("hardtanh", 0.05), 0.05).q_star
    p = math.erf(1 / math.sqrt(2 * q))
    assert jacobian_variance("hardtanh", 4, 0.05, dist="orthogonal") == pytest.approx(4 * (1 / p - 1), rel=1e-9)
    assert jacobian_variance("hardtanh", 4, 0.05) == pytest.approx(4 / p, rel=1e-9)
    z = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    d2 = (1 - torch.tanh(math.sqrt(0.57) * z) ** 2) ** 2
    mu1, mu2 = derivative_moments("tanh", 0.57)
    assert mu1 == pytest.approx(float(d2.mean()), abs=5 * float(d2.std()) / 1414)
    assert mu2 == pytest.approx(float((d2**2).mean()), abs=5 * float((d2**2).std()) / 1414)
    with pytest.raises(ValueError, match="dist: expected one of"):
        jacobian_variance("tanh", 2, dist="uniform")
    with pytest.raises(ValueError, match="maxout is not elementwise"):
        jacobian_variance("maxout", 2)


@pytest.mark.parametrize("kw, expected", [
    (dict(activation="maxout"), "maxout has no mean-field theory"),
    (dict(depths=()), "depths must be one or more integers"),
    (dict(sigma_w2s=(0.0, 1.0)), "sigma_w2s must be one or more finite variances > 0"),
    (dict(seeds=0), "seeds must be an integer ≥ 1"),
    (dict(trained_accuracy=1.5), "trained_accuracy must be in"),
])
def test_bad_configs_say_what_was_expected(kw, expected):
    with pytest.raises(ValueError, match=expected):
        es.SignalConfig(**kw)
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        es.preset("huge")


def test_the_notebook_repr_shows_the_phase_diagram(quick):
    res = es.SignalResult(QUICK, **{k: quick[k] for k in ("theory", "phase_diagram", "gradients", "isometry", "regions_at_init",
                                                          "regions_signal", "seconds")})
    html = res._repr_html_()
    assert "Signal through depth" in html and "6 ξ_c right in" in html and html.count("<tr>") >= 3


TINY = es.SignalConfig(sigma_w2s=(0.5, 1.761), depths=(2, 4), width=4, seeds=1, steps=5, rows=16, grad_width=32, grad_depth=3,
                       grad_seeds=1, grad_inputs=2, iso_depths=(1,), iso_width_per_layer=16, iso_seeds=1, iso_sigma_b2=(0.05,),
                       reg_neurons=(4,), reg_depths=(1, 2), reg_nets=2)


def test_signal_command_json_and_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(es.SIGNAL_PRESETS, "quick", TINY)
    assert main(["signal", "--quick", "--json", "--out", str(tmp_path / "s")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"phase_diagram", "gradients", "isometry", "regions_at_init"} <= set(d)
    assert all({"activation", "init", "layer", "measured", "predicted"} <= set(r) for r in d["gradients"])
    assert all({"activation", "init", "depth", "width", "variance", "predicted_variance"} <= set(r) for r in d["isometry"])
    assert all({"init", "neurons", "depth", "median", "q1", "q3"} <= set(r) for r in d["regions_at_init"])
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert files == ["results.json", "signal_gradients.png", "signal_isometry.png", "signal_phase_diagram.png", "signal_regions.png"]
    assert json.loads((tmp_path / "s" / "results.json").read_text())["phase_diagram"] == d["phase_diagram"]


def test_signal_command_table_and_json_alone_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(es.SIGNAL_PRESETS, "quick", TINY)
    assert main(["signal", "--quick", "--json"]) == 0
    json.loads(capsys.readouterr().out)
    assert list(tmp_path.iterdir()) == []
    assert main(["signal", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "Phase diagram" in out and "Dynamical isometry" in out and "wrote results.json and the figures to actlab-signal/" in out


@pytest.mark.parametrize("argv, expected", [(["signal", "--seed", "-1"], "--seed"), (["signal", "--bogus"], "unrecognized")])
def test_signal_bad_flags_exit_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and expected in capsys.readouterr().err
