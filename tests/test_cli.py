"""The command line: JSON fields, one-line errors with exit status 2, --help that teaches."""

import json
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
