"""The playground's kernel on another architecture: kernel.c built for aarch64 (Debian's
gcc-aarch64-linux-gnu, baseline armv8-a) and run under qemu-user gives the host build's step to
float32 rounding — the same C on NEON as on x86's vectors. Skipped, with the reason, where the
cross compiler or qemu is missing (.ci/run installs both)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from actlab.play import _kernel

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "c" / "kernel_step.c"
CROSS, QEMU = "aarch64-linux-gnu-gcc", "qemu-aarch64"

pytestmark = [
    pytest.mark.skipif(_kernel.arch() != "x86_64", reason=f"the cross build is made from x86-64, this is {platform.machine()}"),
    pytest.mark.skipif(shutil.which(CROSS) is None, reason=f"{CROSS} is not installed (apt-get install gcc-aarch64-linux-gnu)"),
    pytest.mark.skipif(shutil.which(QEMU) is None, reason=f"{QEMU} is not installed (apt-get install qemu-user)"),
    pytest.mark.skipif(_kernel.compiler() is None, reason="no host C compiler"),
]


def _build(cc: str, flags: list[str], width: int, out: Path) -> Path:
    cmd = [cc, "-O2", *flags, f"-DVS={width}", str(DRIVER), str(_kernel.SOURCE), "-lm", "-pthread", "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return out


def _run(cmd: list[str]) -> tuple[list[int], np.ndarray]:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True).stdout.split()
    return [int(out[0]), int(out[1])], np.array(out[2:], dtype=np.float64)


@pytest.fixture(scope="module", params=[8, 16], ids=lambda w: f"vs{w}")
def builds(request, tmp_path_factory):
    """(width, host build, aarch64 build), compiled once per vector width."""
    d, width = tmp_path_factory.mktemp("cross"), request.param
    return (width, _build(_kernel.compiler(), ["-march=x86-64"], width, d / "host"),
            _build(CROSS, ["-march=armv8-a", "-static"], width, d / "arm"))


@pytest.mark.parametrize("act, opt", [("tanh", "adam"), ("relu", "sgd"), ("sigmoid", "adam")])
def test_an_aarch64_build_steps_as_the_host_build(builds, act, opt):
    width, host, arm = builds
    head_h, p_h = _run([str(host), act, opt])
    head_a, p_a = _run([QEMU, str(arm), act, opt])
    assert head_h == head_a == [width, 8]  # the vector width, and 8 steps taken
    _, start = _run([str(host), act, opt, "0"])
    assert np.abs(p_h - start).max() > 1e-3  # the step moved the parameters
    # float32 rounding (FMA contraction differs between the targets), amplified a little by Adam's
    # division: the bound the kernel's tests against torch's step use
    assert np.abs(p_a - p_h).max() / np.abs(p_h).max() < 1e-4
