"""Platform wheels carry the playground's kernel prebuilt, for users without a C compiler.

Everything else about the package is in pyproject.toml. At wheel build time, kernel.c is compiled
for each portable level of this machine's processor family (``_kernel_build.PREBUILT_LEVELS``:
x86-64-v4, v3 and the SSE2 baseline; armv8-a) into ``actlab/play/_prebuilt/``, and the wheel is
tagged for this platform (``py3-none-<platform>``: the kernel is loaded with ctypes, so no Python
ABI is involved). At run time a kernel compiled on the user's machine (``-march=native``) is
preferred, and the best prebuilt level the CPU runs is the fallback. Without a compiler at build
time, or with ``ACTLAB_NO_PREBUILT=1``, the wheel is pure and users keep the torch step or their
own compiler. An editable install builds nothing here.
"""

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("_kernel_build", HERE / "src" / "actlab" / "play" / "_kernel_build.py")
kb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kb)


def _wanted() -> bool:
    return not os.environ.get("ACTLAB_NO_PREBUILT") and kb.compiler() is not None and kb.arch() in kb.PREBUILT_LEVELS


class BuildPyWithKernels(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        out = Path(self.build_lib) / "actlab" / "play" / "_prebuilt"
        # the static playground's engine (any wheel, pure or not: it runs in a browser, not here)
        if kb.wasm_compiler() and not os.environ.get("ACTLAB_NO_PREBUILT"):
            try:
                kb.compile_wasm(out / kb.WASM_NAME)
                print("actlab: built the static playground's WebAssembly engine")
            except RuntimeError as exc:
                print(f"actlab: no WebAssembly engine in this wheel: {exc}", file=sys.stderr)
        if not _wanted():
            return
        for target, width, _ in kb.PREBUILT_LEVELS[kb.arch()]:
            try:
                kb.compile_kernel(out / kb.prebuilt_name(target, width), kb.kernel_flags(target, width))
                print(f"actlab: prebuilt the playground's kernel for {target} ({width} seeds a vector)")
            except RuntimeError as exc:  # a compiler too old for the level: the others still ship
                print(f"actlab: no prebuilt kernel for {target}: {exc}", file=sys.stderr)


class WithKernels(Distribution):
    """Says it has compiled parts, so the wheel is a platform wheel installed into platlib."""

    def has_ext_modules(self):
        return _wanted()


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        python, abi, plat = super().get_tag()
        return ("py3", "none", plat) if not self.root_is_pure else (python, abi, plat)


setup(distclass=WithKernels, cmdclass={"build_py": BuildPyWithKernels, "bdist_wheel": PlatformWheel})
