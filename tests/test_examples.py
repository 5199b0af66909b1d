"""The examples run as written (slow: `make test-slow`)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_collapse_many_seeds_50():
    """Issue claim: 50 seeds × dense/conv/rnn — identity always affine with error ≤ 1e-10,
    relu and tanh always flagged. The example exits 1 if any seed misbehaves."""
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "collapse_many_seeds.py"), "--n-seeds", "50"],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("OK") == 9


@pytest.mark.slow
def test_audit_zoo_gives_every_expected_verdict():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "audit_zoo.py")], capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("OK ") == 10


@pytest.mark.slow
def test_infinite_width_example_makes_its_claims():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "infinite_width.py")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.rstrip().endswith("OK")
