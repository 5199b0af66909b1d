"""The command line: JSON fields, one-line errors with exit status 2, --help that teaches."""

import json
import os
import subprocess
import sys

import pytest

from actlab.cli import main


def test_collapse_json_fields(capsys):
    assert main(["collapse", "--arch", "dense", "--seed", "4", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1
    row = rows[0]
    for key in ("arch", "seed", "activation", "in_shape", "out_shape", "ols_r2", "ols_mse", "ols_seconds",
                "collapse_max_rel_error", "collapse_seconds", "rank", "affine", "residual"):
        assert key in row
    assert row["arch"] == "dense" and row["seed"] == 4 and row["affine"] is True
    assert row["collapse_max_rel_error"] <= 1e-10


def test_collapse_table_all_archs_nonlinear(capsys):
    assert main(["collapse", "--arch", "all", "--activation", "tanh", "--no-ols"]) == 0
    out = capsys.readouterr().out
    assert out.count("not affine") == 3 and "dense" in out and "conv" in out and "rnn" in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["collapse", "--arch", "mlp"], "invalid choice: 'mlp' (choose from 'dense', 'conv', 'rnn', 'all')"),
        (["collapse", "--activation", "foo"], "unknown activation 'foo'; expected one of: linear, relu"),
        (["collapse", "--seed", "-1"], "expected an integer ≥ 0"),
        (["collapse", "--n-seeds", "0"], "expected a positive integer"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_activations_lists_the_registry(capsys):
    assert main(["activations", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert len(entries) >= 21 and entries[0]["name"] == "linear" and "identity" in entries[0]["aliases"]


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "actlab.cli", "collapse", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--activation" in out.stdout and "examples:" in out.stdout


def test_import_actlab_pulls_neither_matplotlib_nor_sympy():
    code = "import sys, actlab; print('matplotlib' in sys.modules, 'sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_xor_json_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["xor", "--seeds", "30", "--steps", "200", "--activations", "linear,tanh", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["config"]["n_seeds"] == 30 and set(d["activations"]) == {"linear", "tanh"}
    row = d["activations"]["linear"]
    assert row["success_rate"] == 0.0 and len(row["success_ci"]) == 2
    assert os.listdir(tmp_path) == []


def test_xor_table_and_files(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["xor", "--seeds", "20", "--steps", "100", "--activations", "relu", "--out", str(out), "--gif"]) == 0
    text = capsys.readouterr().out
    assert "relu" in text and "95% CI" in text
    assert {"results.json", "success.png", "loss_curves.png", "boundaries.png", "nn_xor_relu.gif", "boundary_relu.gif"} <= set(os.listdir(out))


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["xor", "--seeds", "0"], "expected a positive integer"),
        (["xor", "--steps", "-3"], "expected an integer ≥ 0"),
        (["xor", "--hidden", "0"], "hidden widths must be ≥ 1"),
        (["xor", "--activations", "relu,foo"], "unknown activation 'foo'"),
        (["xor", "--dataset", "mnist"], "invalid choice: 'mnist'"),
    ],
)
def test_xor_bad_input(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and expected in err and err.count("\n") == 1


def test_derive_prints_the_collapsed_form(capsys):
    assert main(["derive", "--layers", "2,2,1"]) == 0
    out = capsys.readouterr().out
    assert "y = w'_{11} x_{1} + w'_{12} x_{2} + b'_{1}" in out and "Grouping like terms" in out


def test_derive_png_and_refusal(tmp_path, capsys):
    assert main(["derive", "--layers", "1,1,1,1", "--format", "png", "--out", str(tmp_path / "d.png")]) == 0
    assert (tmp_path / "d.png").stat().st_size > 1000
    assert main(["derive", "--layers", "40,40,40"]) == 2
    err = capsys.readouterr().err
    assert "above the limit of 20,000" in err and err.count("\n") == 1


def test_univariate_json_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["univariate", "--json", "--no-gif"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["models"]) == 9 and d["converged"] is True
    assert os.listdir(tmp_path) == []


def _write_factory(tmp_path):
    (tmp_path / "facmod.py").write_text(
        "import torch, torch.nn as nn\n"
        "def net():\n"
        "    torch.manual_seed(0)\n"
        "    return nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))\n"
        "def boom():\n"
        "    raise RuntimeError('no')\n"
    )


def test_audit_factory_json_and_fold(tmp_path, capsys, monkeypatch):
    _write_factory(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "facmod:net", "--input-shape", "6", "--json", "--fold", "f.pt2"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["is_affine"] is False and d["first_nonlinear"] == "2"
    assert d["fold"]["layers_after"] == 3 and (tmp_path / "f.pt2").exists()
    assert main(["audit", "f.pt2", "--input-shape", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["is_affine"] is False


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["audit", "facmod:net", "--input-shape", "5"], "the model raised on example inputs"),
        (["audit", "missing.pt2", "--input-shape", "5"], "no such file"),
        (["audit", "facmod:boom", "--input-shape", "5"], "raised RuntimeError: no"),
        (["audit", "pickled.pth", "--input-shape", "6"], "loading a pickle runs code"),
    ],
)
def test_audit_bad_input(argv, expected, tmp_path, capsys, monkeypatch):
    import torch

    _write_factory(tmp_path)
    monkeypatch.chdir(tmp_path)
    torch.save(torch.nn.Linear(6, 2), tmp_path / "pickled.pth")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_audit_trust_pickle(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    torch.save(torch.nn.Linear(6, 2), tmp_path / "pickled.pth")
    assert main(["audit", "pickled.pth", "--input-shape", "6", "--trust-pickle", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["is_affine"] is True


def test_audit_torchscript_file(tmp_path, capsys):
    import warnings

    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(model).save(str(tmp_path / "m.ts"))
    assert main(["audit", str(tmp_path / "m.ts"), "--input-shape", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["is_affine"] is False


def test_audit_tree_names_the_first_owner_and_json_has_the_same_rows(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # actlab.zoo is part of the package: no repository root needed
    argv = ["audit", "actlab.zoo:resnet18", "--input-shape", "3,32,32", "--batch", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "◀ first nonlinear" in out and "first nonlinear = relu" in out and "audit took" in out
    assert "layer1" in out and "BasicBlock" in out and "probed domain" in out
    assert main(argv + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    from actlab import zoo

    n_modules = sum(1 for _ in zoo.resnet18().named_modules())  # every module, the model itself included
    assert d["first_nonlinear"] == "relu" and len(d["modules"]) == n_modules and d["seconds"] > 0
    assert {m["name"] for m in d["modules"]} >= {"", "conv1", "layer1.0.relu", "fc"}


def test_audit_max_bytes(tmp_path, capsys, monkeypatch):
    (tmp_path / "lin.py").write_text("import torch.nn as nn\ndef net():\n    return nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 2))\n")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "lin:net", "--input-shape", "6", "--max-bytes", "64", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["is_affine"] is True and d["map"] is None and "max_bytes" in d["note"]
    assert main(["audit", "lin:net", "--input-shape", "6", "--max-bytes", "1k"]) == 0
    assert "one map 2 × 6 of rank 2" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["audit", "lin:net", "--input-shape", "6", "--max-bytes", "lots"])
    assert exc.value.code == 2 and "expected a size in bytes" in capsys.readouterr().err


def test_diverged_seeds_are_counted_and_the_run_finishes(tmp_path, capsys):
    """Was: 'Out of range float values are not JSON compliant: nan', nothing written."""
    out = tmp_path / "x"
    assert main(["xor", "--optimizer", "sgd", "--lr", "1e6", "--seeds", "20", "--steps", "50", "--out", str(out)]) == 0
    d = json.loads((out / "results.json").read_text())
    assert d["activations"]["relu"]["diverged"] > 0 and d["activations"]["relu"]["success_rate"] == 0.0
    assert sorted(p.name for p in out.iterdir()) == ["boundaries.png", "loss_curves.png", "results.json", "success.png"]
    capsys.readouterr()
    assert main(["xor", "--optimizer", "sgd", "--lr", "1e6", "--seeds", "20", "--steps", "50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["activations"]["linear"]["diverged"] > 0


def test_out_on_an_existing_file_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "README.md"
    f.write_text("mine")
    for argv in (["xor", "--seeds", "4", "--steps", "4"], ["univariate"], ["demo", "--quick"]):
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--out", str(f)])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "existing file" in err and err.count("\n") == 1
    assert f.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_internal_failure_is_one_line_exit_1(tmp_path, capsys, monkeypatch):
    import actlab.experiments.xor as xor

    def boom(*a, **k):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(xor, "run_xor", boom)
    monkeypatch.delenv("ACTLAB_TRACEBACK", raising=False)
    assert main(["xor", "--seeds", "4", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]  # (a progress display may leave an empty line)
    assert len(lines) == 1 and "failed: RuntimeError: simulated failure" in lines[0] and "Traceback (most recent" not in err
    assert not (tmp_path / "o").exists()


def test_audit_fold_failures_are_one_line(tmp_path, capsys, monkeypatch):
    """Was: tracebacks for --fold on a model without parameters, and for a torch.export failure."""
    import torch

    (tmp_path / "plain.py").write_text(
        "import torch.nn as nn\n"
        "def noparams():\n    return nn.Sequential(nn.ReLU(), nn.Flatten())\n"
        "def net():\n    return nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "plain:noparams", "--input-shape", "4", "--fold", "f.pt2"]) == 2
    err = capsys.readouterr().err
    assert "no parameters" in err and err.count("\n") == 1 and not (tmp_path / "f.pt2").exists()

    def broken_export(*a, **k):
        raise RuntimeError("export says no")

    monkeypatch.setattr(torch.export, "export", broken_export)
    monkeypatch.delenv("ACTLAB_TRACEBACK", raising=False)
    assert main(["audit", "plain:net", "--input-shape", "4", "--fold", "g.pt2"]) == 1
    err = capsys.readouterr().err
    assert "failed: RuntimeError: export says no" in err and "Traceback (most" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pt2" or p.name.startswith(".")) == []


def test_every_subcommand_help_has_examples():
    from actlab.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    for name, p in sub.choices.items():
        assert "examples" in (p.epilog or "") and f"actlab {name}" in p.epilog, name


def test_console_script_exits_fast_with_the_right_code_and_complete_output():
    """The `actlab` script skips torch's teardown (os._exit) after flushing its output."""
    from pathlib import Path

    script = str(Path(sys.executable).with_name("actlab"))
    ok = subprocess.run([script, "activations", "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and len(json.loads(ok.stdout)) >= 21
    bad = subprocess.run([script, "xor", "--seeds", "-1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "positive integer" in bad.stderr
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("actlab ")


def test_fold_command_json_file_and_table(tmp_path, capsys, monkeypatch):
    """actlab fold: merges, what was left and why, FLOPs and parameters, the error; the saved
    archive computes what the model computes."""
    import torch

    (tmp_path / "foldmod.py").write_text(
        "import torch, torch.nn as nn\n"
        "def net():\n"
        "    torch.manual_seed(0)\n"
        "    bn = nn.BatchNorm1d(8).eval()\n"
        "    bn.running_var.fill_(2.0)\n"
        "    return nn.Sequential(nn.Linear(6, 8), bn, nn.ReLU(), nn.Linear(8, 2), nn.Linear(2, 8)).eval()\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["fold", "foldmod:net", "--input-shape", "6", "--json", "--out", "f.pt2"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["merged"] == ["0 + 1 (BatchNorm, eval) → one Linear"]
    assert any(w.startswith("3 + 4: the merged layer would cost 64 multiply-adds per sample, the pair 32") for w in d["left"])
    assert d["flops_before"] == 2 * (48 + 8 + 16 + 16) and d["flops_after"] == 2 * (48 + 16 + 16)
    assert d["params_before"] == 56 + 16 + 18 + 24 and d["params_after"] == 56 + 18 + 24 and d["max_rel_error"] < 1e-6
    import foldmod

    model, x = foldmod.net(), torch.randn(5, 6)
    torch.testing.assert_close(torch.export.load("f.pt2").module()(x), model(x), rtol=1e-5, atol=1e-6)
    assert main(["fold", "foldmod:net", "--input-shape", "6", "--dearer"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs per sample 176 → 224" in out and "dearer" in out and "fold took" in out


@pytest.mark.parametrize("argv, expected", [
    (["fold", "foldless:net", "--input-shape", "6"], "cannot import 'foldless'"),
    (["fold", "x:y", "--input-shape", "a,b"], "expected shape entries"),
    (["fold", "foldmod2:net", "--input-shape", "6", "--out", "sub"], "expected a file name"),
])
def test_fold_command_bad_input(argv, expected, tmp_path, capsys, monkeypatch):
    (tmp_path / "foldmod2.py").write_text("import torch.nn as nn\ndef net():\n    return nn.Sequential(nn.Linear(6, 2))\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
