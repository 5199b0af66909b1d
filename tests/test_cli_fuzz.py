"""Property test of the command line: argument lists drawn from its own grammar, with good and
bad values (negative, zero, huge, NaN, unknown names, missing files, odd shapes), never print a
traceback, exit only with 0 (done) or 2 (a usage error, one line), and never leave a partial
file. Bounded to a few seconds: counts of seeds and steps stay small when they are valid."""

import contextlib
import io
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actlab.cli import main

BAD_NUMBERS = ["-1", "0", "nan", "inf", "x", "", "1e3", "99999999999999999999", "2.5"]


def _flag(name: str, good: list[str], bad: list[str] = BAD_NUMBERS):
    return st.one_of(st.just([]), st.sampled_from(good + bad).map(lambda v: [name, v]))


def _xor():
    return st.tuples(
        st.just(["xor"]),
        _flag("--activations", ["relu", "linear,tanh", "maxout", "relu,relu"], ["bogus", "", ",", "relu,bogus"]),
        _flag("--seeds", ["1", "3"]),
        _flag("--steps", ["0", "1", "5"]),
        _flag("--hidden", ["2", "2,2", "1"], ["0", "a", "-1", "", "2,,2", "2.5"]),
        _flag("--lr", ["0.1", "1e308", "1e6"], ["0", "-1", "nan", "inf", "x"]),
        _flag("--dataset", ["xor", "spiral", "moons"], ["bogus", ""]),
        _flag("--optimizer", ["adam", "sgd"], ["bogus"]),
        _flag("--loss", ["mse", "bce"], ["x"]),
        _flag("--batch-size", ["1", "3"]),
        _flag("--n-points", ["4", "9"]),
        _flag("--noise", ["0", "0.3"], ["-1", "nan", "x"]),
        _flag("--seed", ["0", "7"]),
        st.sampled_from([["--json"], ["--out", "{tmp}/out"], ["--out", "{file}"], ["--out", "/proc/actlab"]]),
    )


def _collapse():
    return st.tuples(
        st.just(["collapse", "--no-ols"]),
        _flag("--arch", ["dense", "rnn"], ["bogus", "", "conv,dense"]),
        _flag("--seed", ["0", "2"]),
        _flag("--n-seeds", ["1"], ["0", "-1", "x"]),
        _flag("--activation", ["linear", "relu", "identity"], ["bogus", ""]),
        st.sampled_from([[], ["--json"]]),
    )


def _derive():
    return st.tuples(
        st.just(["derive"]),
        _flag("--layers", ["2,2,1", "1,1,1", "3,1"], ["0", "1", "2,x", "40,40,40", "", "-2,1"]),
        _flag("--activation", ["linear", "relu"], ["bogus"]),
        _flag("--format", ["md", "latex"], ["bogus", "png2"]),
        _flag("--max-terms", ["50", "20000"]),
    )


def _audit():
    return st.tuples(
        st.just(["audit"]),
        st.sampled_from([["missing.pt2"], ["nomodule_xyz:f"], ["{file}"], ["os:getcwd"]]),
        _flag("--input-shape", ["3", "2,2"], ["0", "x", "", "-1,2"]),
        _flag("--batch", ["2"]),
        _flag("--max-bytes", ["1k", "4G"], ["0", "lots", "-5", "nan"]),
    )


ARGV = st.one_of(_xor(), _collapse(), _derive(), _audit(), st.just((["activations"], ["--json"])))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ARGV)
def test_cli_never_tracebacks_or_leaves_partial_files(parts):
    with tempfile.TemporaryDirectory() as tmp:
        existing = Path(tmp) / "existing.txt"
        existing.write_text("keep me")
        argv = [a.replace("{tmp}", tmp).replace("{file}", str(existing)) for part in parts for a in part]
        err, out = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse: --help or a usage error
                    code = exc.code
        finally:
            os.chdir(cwd)
        message = err.getvalue()
        assert "Traceback" not in message, (argv, message)
        assert code in (0, 2), (argv, code, message)
        if code == 2:
            assert len([line for line in message.splitlines() if line.strip()]) == 1, (argv, message)
        assert existing.read_text() == "keep me"
        leftovers = [p.name for p in Path(tmp).rglob("*") if p.name.startswith(".")]
        assert leftovers == [], (argv, leftovers)  # an atomic writer's temporary, left behind
