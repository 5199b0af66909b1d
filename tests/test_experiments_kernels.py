"""``actlab kernels`` and its experiments: each measured claim against its oracle — the least-
squares fit for the linear kernel's regression, the best quadratic for x², rank d + 1 for the
linear kernel, 1/√width for real nets against ``actlab.nngp`` — plus the command's JSON, files and
errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

import actlab
from actlab.cli import main
from actlab.experiments.kernels import (KERNELS_PRESETS, KernelsConfig, approximation, convergence, empirical_nngp, ranks,
                                        regression, run_kernels)

TINY = KernelsConfig(widths=(32, 1024), conv_seeds=4, conv_points=10, datasets=("circle", "spiral"), train_points=120,
                     reg_width=64, reg_seeds=3, reg_steps=400, approx_widths=(1, 3, 64), approx_seeds=2,
                     arch_activations=("linear", "relu"), arch_points=40, arch_width=8, arch_seeds=1, arch_steps=20)


def test_empirical_nngp_is_the_readout_covariance_of_the_net_itself():
    """σ_w² h·h′/n + σ_b², h the last hidden layer, is the covariance over readout weights: the
    mean of f(x)f(x′) over many readouts drawn for that same net."""
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    k = empirical_nngp("tanh", x, 64, 2, 1.5, 0.05, seed=3)
    from actlab.experiments.kernels import _random_features

    h = _random_features("tanh", x, 64, 2, 1.5, 0.05, seed=3)
    g = torch.Generator().manual_seed(9)
    w = torch.randn(64, 200_000, generator=g, dtype=torch.float64) * math.sqrt(1.5 / 64)
    b = torch.randn(200_000, generator=g, dtype=torch.float64) * math.sqrt(0.05)
    f = h @ w + b
    torch.testing.assert_close(f @ f.T / f.shape[1], k, rtol=0.02, atol=0.02)


def test_real_nets_converge_to_the_nngp_as_width_grows():
    rows = convergence(TINY)
    assert {(r["activation"], r["width"]) for r in rows} == {(a, w) for a in TINY.activations for w in TINY.widths}
    for a in TINY.activations:
        small, large = (next(r["rel_error"] for r in rows if r["activation"] == a and r["width"] == w) for w in TINY.widths)
        assert large < small / 2, (a, small, large)  # 32× the width: ≈ 5.7× smaller expected


def test_regression_linear_is_least_squares_and_only_non_polynomial_kernels_solve_the_spiral():
    rows = {(r["dataset"], r["activation"]): r for r in regression(TINY)}
    for task in TINY.datasets:
        lin = rows[(task, "linear")]
        assert lin["accuracy_kernel"] == lin["accuracy_least_squares"] < 0.7
        assert rows[(task, "relu")]["accuracy_kernel"] > 0.9
    assert rows[("circle", "square")]["accuracy_kernel"] > 0.9  # a quadratic boundary: within x²'s reach
    assert rows[("spiral", "square")]["accuracy_kernel"] < 0.7 and rows[("spiral", "square")]["accuracy_trained"] < 0.7
    assert rows[("circle", "relu")]["accuracy_trained"] > 0.9


def test_square_stays_at_the_best_quadratic_and_relu_tanh_go_below_it():
    a = approximation(TINY)
    err = {(r["activation"], r["width"]): r["error"] for r in a["rows"]}
    x = torch.linspace(-1, 1, TINY.approx_points, dtype=torch.float64)
    basis = torch.stack([torch.ones_like(x), x, x * x], 1)
    best_quadratic = torch.linalg.lstsq(basis, x.abs()[:, None]).solution
    floor = float(torch.sqrt(((basis @ best_quadratic)[:, 0] - x.abs()).pow(2).mean()))
    assert a["polynomial_floor"] == pytest.approx(floor, rel=1e-9)
    for w in (3, 64):
        assert err[("square", w)] == pytest.approx(floor, rel=1e-6)
        assert err[("linear", w)] == pytest.approx(a["linear_floor"], rel=1e-6)
    assert err[("relu", 64)] < floor / 10 and err[("tanh", 64)] < floor / 10


def test_kernel_ranks_linear_d_plus_one_square_quadratic_relu_full():
    rk = {(r["activation"], r["depth"]): r for r in ranks(TINY, n=30)}
    assert rk[("linear", 1)]["rank"] == rk[("linear", 2)]["rank"] == 3
    assert rk[("square", 1)]["rank"] == 6
    assert rk[("relu", 1)]["rank"] == rk[("relu", 2)]["rank"] == 30


def test_the_articles_architectures_need_an_activation_at_infinite_width_too():
    """The infinite network of each architecture: without an activation a linear model (chance, with
    least squares; the dense and recurrent ones are least squares' fit itself), with ReLU it solves
    the task, as trained finite nets do."""
    from actlab.experiments.architectures import architectures

    config = KernelsConfig(arch_activations=("linear", "relu"), arch_points=120, arch_width=32, arch_seeds=2, arch_steps=200)
    rows = {(r["arch"], r["activation"]): r for r in architectures(config)}
    for arch in ("dense", "conv", "rnn"):
        lin, relu = rows[(arch, "linear")], rows[(arch, "relu")]
        assert lin["accuracy_infinite"] < 0.65 and lin["accuracy_least_squares"] < 0.65, lin
        assert relu["accuracy_infinite"] > 0.75 and relu["accuracy_trained"] > 0.75, relu
        if arch != "conv":  # a linear model in x itself (the conv's pooling makes it one in fewer features)
            assert abs(lin["accuracy_infinite"] - lin["accuracy_least_squares"]) <= 0.02, lin


def test_bad_configs_say_what_was_expected():
    with pytest.raises(ValueError, match="maxout"):
        KernelsConfig(activations=("relu", "maxout"))
    with pytest.raises(ValueError, match="unknown activation"):
        KernelsConfig(activations=("nope",))
    with pytest.raises(ValueError, match="unknown dataset 'moon'"):
        KernelsConfig(datasets=("moon",))
    with pytest.raises(ValueError, match="widths must be"):
        KernelsConfig(widths=())


def test_the_notebook_repr_draws_each_kernel():
    res = run_kernels(KernelsConfig(activations=("linear", "relu"), widths=(16, 64), conv_seeds=1, conv_points=6,
                                    datasets=("circle",), train_points=40, reg_width=16, reg_seeds=1, reg_steps=20,
                                    approx_widths=(2,), approx_seeds=1, arch_activations=("linear",), arch_points=20,
                                    arch_width=4, arch_seeds=1, arch_steps=2))
    html = res._repr_html_()
    assert "Infinite width" in html and html.count("<svg") == 2 and "rank 3" in html


def test_kernels_command_json_and_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(KERNELS_PRESETS, "quick", TINY)
    assert main(["kernels", "--quick", "--json", "--out", str(tmp_path / "k")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"convergence", "regression", "approximation", "polynomial_floor", "ranks", "architectures", "example"} <= set(d)
    assert {(r["arch"], r["activation"]) for r in d["architectures"]} == {(a, b) for a in ("dense", "conv", "rnn") for b in ("linear", "relu")}
    assert all({"activation", "width", "rel_error"} <= set(r) for r in d["convergence"])
    assert all({"activation", "dataset", "accuracy_kernel", "accuracy_trained"} <= set(r) for r in d["regression"])
    assert all({"activation", "width", "error"} <= set(r) for r in d["approximation"])
    assert d["polynomial_floor"] < d["linear_floor"]
    files = sorted(p.name for p in (tmp_path / "k").iterdir())
    assert files == ["kernels_approximation.png", "kernels_architectures.png", "kernels_convergence.png", "kernels_heatmaps.png",
                     "kernels_regression.png", "results.json"]
    assert json.loads((tmp_path / "k" / "results.json").read_text())["ranks"] == d["ranks"]


def test_kernels_command_json_alone_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(KERNELS_PRESETS, "quick", TINY)
    assert main(["kernels", "--quick", "--json"]) == 0
    json.loads(capsys.readouterr().out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, expected", [(["kernels", "--seed", "-1"], "--seed"), (["kernels", "--bogus"], "unrecognized")])
def test_kernels_bad_flags_exit_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and expected in capsys.readouterr().err


def test_public_names():
    assert actlab.nngp is actlab.theory.nngp and actlab.ntk is actlab.theory.ntk
