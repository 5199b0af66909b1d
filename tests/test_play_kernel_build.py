"""Where the playground's kernel comes from on each platform: the compiler's target flags, the
cache folder, the library's suffix, a prebuilt build when no compiler is there, and the torch
step when neither is. These run on any machine: the platform is a parameter, not the host."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import pytest

from actlab.play import _kernel


@pytest.mark.parametrize("machine, family", [("x86_64", "x86_64"), ("AMD64", "x86_64"), ("arm64", "aarch64"),
                                             ("aarch64", "aarch64"), ("riscv64", "riscv64")])
def test_processor_families_are_named_as_the_prebuilt_builds_name_them(machine, family):
    assert _kernel.arch(machine) == family


def test_native_builds_ask_for_the_cpus_own_instructions_the_way_each_compiler_takes_them():
    assert _kernel.march_flags("native", "x86_64") == ["-march=native"]
    assert _kernel.march_flags("native", "aarch64") == ["-mcpu=native"]  # Apple's clang refuses -march=native
    assert _kernel.march_flags("x86-64", "x86_64") == ["-march=x86-64"]
    assert _kernel.march_flags("armv8-a", "aarch64") == ["-march=armv8-a"]


def test_the_target_can_be_chosen(monkeypatch):
    monkeypatch.setenv("ACTLAB_KERNEL_MARCH", "x86-64")
    monkeypatch.setenv("ACTLAB_KERNEL_VS", "16")
    flags = _kernel._flags()
    assert "-march=x86-64" in flags and "-DVS=16" in flags and not any("native" in f for f in flags)


def test_each_platform_keeps_compiled_kernels_in_its_user_cache(monkeypatch):
    home = Path.home()
    assert _kernel.cache_dir("linux", {}) == home / ".cache" / "actlab"
    assert _kernel.cache_dir("linux", {"XDG_CACHE_HOME": "/x/cache"}) == Path("/x/cache/actlab")
    assert _kernel.cache_dir("darwin", {}) == home / "Library" / "Caches" / "actlab"
    assert _kernel.cache_dir("win32", {"LOCALAPPDATA": "/users/u/AppData/Local"}) == Path("/users/u/AppData/Local/actlab/Cache")
    assert _kernel.cache_dir("win32", {}) == home / "AppData" / "Local" / "actlab" / "Cache"
    assert _kernel.cache_dir("win32", {"ACTLAB_CACHE": "/c"}) == Path("/c")
    assert [_kernel.library_suffix(s) for s in ("linux", "darwin", "win32")] == [".so", ".dylib", ".dll"]


def _fresh(monkeypatch, tmp_path):
    for name in ("_lib", "_why", "_built"):
        monkeypatch.setattr(_kernel, name, [])
    monkeypatch.setenv("ACTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ACTLAB_NO_KERNEL", raising=False)


def test_without_a_compiler_or_a_prebuilt_build_the_reason_names_both(monkeypatch, tmp_path):
    _fresh(monkeypatch, tmp_path)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(_kernel, "PREBUILT", tmp_path / "none")
    assert _kernel.load() is None and _kernel.build() == ""
    why = _kernel.why_not()
    assert "no-such-cc could not run" in why and "no prebuilt kernel" in why


@pytest.mark.skipif(sys.platform == "win32", reason="kernel.c needs pthreads and GCC/clang vector extensions: Windows runs the torch step")
def test_a_failing_compiler_falls_back_to_the_prebuilt_build(monkeypatch, tmp_path):
    """The wheel's build for the best level this CPU runs is loaded when the compiler fails
    (here: /bin/false); a level whose instructions the CPU lacks is passed over."""
    monkeypatch.delenv("CC", raising=False)  # the stand-in builds need a real compiler, whatever the run's $CC
    if _kernel.compiler() is None:
        pytest.skip("no C compiler on PATH to make the stand-in prebuilt builds")
    _fresh(monkeypatch, tmp_path)
    monkeypatch.delenv("ACTLAB_KERNEL_VS", raising=False)
    shipped = tmp_path / "prebuilt"
    levels = {"x86_64": [("needs-a-flag-no-cpu-has", 16, ("no_such_flag",)), ("stand-in", 8, ())]}
    monkeypatch.setattr(_kernel, "PREBUILT_LEVELS", {_kernel.arch(): levels["x86_64"]})
    monkeypatch.setattr(_kernel, "PREBUILT", shipped)
    _kernel.compile_kernel(shipped / _kernel.prebuilt_name("stand-in", 8), [*_kernel.FLAGS, "-DVS=8"])
    _kernel.compile_kernel(shipped / _kernel.prebuilt_name("needs-a-flag-no-cpu-has", 16), [*_kernel.FLAGS, "-DVS=16"])
    monkeypatch.setenv("CC", "/bin/false")
    lib = _kernel.load()
    assert isinstance(lib, ctypes.CDLL) and lib.block_seeds() == 8
    assert _kernel.build().startswith("prebuilt for stand-in, 8 seeds a vector") and "failed" in _kernel.build()
    # a forced width takes only a build of that width
    _fresh(monkeypatch, tmp_path)
    monkeypatch.setenv("ACTLAB_KERNEL_VS", "16")
    assert _kernel.load() is None and "no prebuilt kernel" in _kernel.why_not()


def test_every_platform_has_prebuilt_levels_from_a_portable_baseline():
    for family, levels in _kernel.PREBUILT_LEVELS.items():
        assert levels[-1][2] == (), f"{family}: the last level must need no optional instruction"
        assert all(width in (8, 16) for _, width, _ in levels)


def test_a_windows_build_is_a_static_dll_and_others_are_position_independent():
    win = _kernel.kernel_flags("x86-64", 8, "AMD64", "win32")
    assert "-static" in win and "-fPIC" not in win and "-march=x86-64" in win and "-DVS=8" in win
    lin = _kernel.kernel_flags("native", 16, "x86_64", "linux")
    assert "-fPIC" in lin and "-static" not in lin and "-march=native" in lin
    assert "-mcpu=native" in _kernel.kernel_flags("native", 8, "arm64", "darwin")
    assert _kernel.prebuilt_name("x86-64", 8, "win32") == "play_kernel-x86-64-vs8.dll"
