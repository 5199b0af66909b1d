"""The Makefile's install commands, read with ``make -n`` (CI cannot reach torch's own index):
``make demo`` installs actlab alone, ``make test`` the dev extra; TORCH picks the CPU wheels
(torch's index) or PyPI's build, by default by whether an NVIDIA GPU answers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _dry(tmp_path, *args, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    env.pop("TORCH", None)
    return subprocess.run([shutil.which("make"), "-n", "-C", str(ROOT), f"VENV={tmp_path / 'venv'}", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def _pip_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "pip install" in line]


def test_make_demo_installs_torch_from_the_cpu_index_then_actlab_alone(tmp_path):
    r = _dry(tmp_path, "demo", "TORCH=cpu")
    torch_step, rest = _pip_lines(r.stdout)
    assert r.returncode == 0 and CPU_INDEX in torch_step and "--no-deps" in torch_step and torch_step.rstrip().endswith(" torch")
    assert "-c constraints.txt" in torch_step  # the pin holds in both steps
    assert "extra-index-url" not in rest and rest.rstrip().endswith("-c constraints.txt -e .")
    assert "actlab demo --out actlab-report" in r.stdout


def test_make_test_installs_the_dev_extra_from_pypi_with_torch_cuda(tmp_path):
    r = _dry(tmp_path, "test", "TORCH=cuda")
    torch_step, rest = _pip_lines(r.stdout)
    assert r.returncode == 0 and "extra-index-url" not in torch_step + rest and rest.rstrip().endswith("-e '.[dev]'")
    assert "pytest" in r.stdout


def test_an_unknown_torch_build_is_refused(tmp_path):
    r = _dry(tmp_path, "demo", "TORCH=rocm")
    assert r.returncode != 0 and "TORCH must be cpu or cuda, got 'rocm'" in r.stderr


def test_the_default_build_follows_nvidia_smi(tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "test", "touch"):
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bare / tool)
    assert CPU_INDEX in _pip_lines(_dry(tmp_path, "demo", path=str(bare)).stdout)[0]  # the torch step
    smi = bare / "nvidia-smi"
    smi.write_text("#!/bin/sh\nexit 0\n")
    smi.chmod(0o755)
    assert "extra-index-url" not in _pip_lines(_dry(tmp_path, "demo", path=str(bare)).stdout)[0]


def test_a_second_make_installs_nothing(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed-run").touch()
    (venv / ".installed-dev").touch()
    r = _dry(tmp_path, "test")
    assert r.returncode == 0 and not _pip_lines(r.stdout) and "pytest" in r.stdout
