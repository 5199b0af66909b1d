"""The playground's kernel on other platforms, from this x86-64 Linux machine: kernel.c built

- for aarch64 (Debian's gcc-aarch64-linux-gnu, baseline armv8-a), run under qemu-user;
- for Windows (MinGW-w64's gcc, baseline x86-64, with winpthreads), as the DLL a Windows wheel
  ships (``kernel_flags(..., "win32")``), loaded under wine with LoadLibrary and GetProcAddress
  as ctypes loads it;

gives the host build's step to float32 rounding. Skipped, with the reason, where a cross compiler
or its emulator is missing (.ci/run installs them)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from actlab.play import _kernel

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "c" / "kernel_step.c"
ARM_CC, QEMU = "aarch64-linux-gnu-gcc", "qemu-aarch64"
MINGW, WINE = "x86_64-w64-mingw32-gcc-posix", "wine"
CASES = [("tanh", "adam"), ("relu", "sgd"), ("sigmoid", "adam")]

pytestmark = [
    pytest.mark.skipif(_kernel.arch() != "x86_64" or platform.system() != "Linux",
                       reason=f"the cross builds are made from x86-64 Linux, this is {platform.system()} {platform.machine()}"),
    pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no host C compiler"),
]


def _need(*programs: str) -> None:
    for prog in programs:
        if shutil.which(prog) is None:
            pytest.skip(f"{prog} is not installed (.ci/run installs it with apt-get)")


def _build(cc: str, flags: list[str], width: int, out: Path, sources=(DRIVER, _kernel.SOURCE)) -> Path:
    cmd = [cc, "-O2", *flags, f"-DVS={width}", *map(str, sources), "-lm", "-pthread", "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return out


def _run(cmd: list[str], env: dict | None = None) -> tuple[list[int], np.ndarray]:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True, env=env).stdout.split()
    return [int(out[0]), int(out[1])], np.array(out[2:], dtype=np.float64)


@pytest.fixture(scope="module")
def wine_env(tmp_path_factory) -> dict:
    """One wine prefix for the module (making one takes seconds)."""
    _need(WINE)
    return {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": str(tmp_path_factory.mktemp("wine"))}


@pytest.fixture(scope="module", params=[8, 16], ids=lambda w: f"vs{w}")
def host(request, tmp_path_factory):
    """(width, the host's baseline build, a folder for the cross builds), once per vector width."""
    d, width = tmp_path_factory.mktemp("cross"), request.param
    cc = shutil.which("cc") or shutil.which("gcc")
    return width, _build(cc, ["-march=x86-64"], width, d / "host"), d


def _same_step(width: int, host_build: Path, act: str, opt: str, cmd: list[str], env=None) -> None:
    head_h, p_h = _run([str(host_build), act, opt])
    head_x, p_x = _run([*cmd, act, opt], env)
    assert head_h == head_x == [width, 8]  # the vector width, and 8 steps taken
    _, start = _run([str(host_build), act, opt, "0"])
    assert np.abs(p_h - start).max() > 1e-3  # the step moved the parameters
    # float32 rounding (FMA contraction differs between the targets), amplified a little by Adam's
    # division: the bound the kernel's tests against torch's step use
    assert np.abs(p_x - p_h).max() / np.abs(p_h).max() < 1e-4


@pytest.mark.parametrize("act, opt", CASES)
def test_an_aarch64_build_steps_as_the_host_build(host, act, opt):
    _need(ARM_CC, QEMU)
    width, host_build, d = host
    arm = d / "arm"
    if not arm.exists():
        _build(ARM_CC, ["-march=armv8-a", "-static"], width, arm)
    _same_step(width, host_build, act, opt, [QEMU, str(arm)])


@pytest.mark.parametrize("act, opt", CASES)
def test_the_dll_a_windows_wheel_ships_loads_and_steps_as_the_host_build(host, wine_env, act, opt):
    """kernel.c compiled with the Windows flags setup.py uses, loaded by name as ctypes does:
    it exports the kernel's entry points and needs no DLL beyond Windows' own."""
    _need(MINGW, "x86_64-w64-mingw32-objdump")
    width, host_build, d = host
    dll, loader = d / _kernel.prebuilt_name("x86-64", width, "win32"), d / "loader.exe"
    if not loader.exists():
        _kernel.compile_kernel(dll, _kernel.kernel_flags("x86-64", width, "x86_64", "win32"), cc=MINGW)
        _build(MINGW, ["-DKERNEL_DLL"], width, loader, sources=(DRIVER,))
    table = subprocess.run(["x86_64-w64-mingw32-objdump", "-p", str(dll)], capture_output=True, text=True, check=True).stdout
    imports = {line.split(":")[1].strip().lower() for line in table.splitlines() if "DLL Name:" in line}
    assert imports <= {"kernel32.dll", "msvcrt.dll"}, imports
    assert all(f"] {name}" in table for name in ("train_steps", "train_steps_wide", "predict_wide", "block_seeds"))
    env = {**wine_env, "KERNEL_DLL": "Z:" + str(dll).replace("/", "\\")}
    _same_step(width, host_build, act, opt, [WINE, str(loader)], env)
