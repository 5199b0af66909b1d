"""How the playground's kernel (kernel.c) is compiled: flags, targets and the prebuilt levels.

Standard library only, so that setup.py can load this file by its path when it builds a platform
wheel (torch is not installed in an isolated build) and ``_kernel`` uses the same rules at run
time: one list of flags, one table of levels, one compile step.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("kernel.c")
FLAGS = ["-O3", "-fno-math-errno", "-fopenmp-simd", "-pthread", "-shared", "-fPIC"]
# The builds a platform wheel ships, best first: (name, -march target, vector width, CPU flags it needs).
# x86-64-v4 is AVX-512 (F, BW, CD, DQ, VL), v3 AVX2 with FMA, x86-64 the SSE2 every x86-64 CPU has.
PREBUILT_LEVELS = {
    "x86_64": [("x86-64-v4", 16, ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
               ("x86-64-v3", 8, ("avx2", "fma", "bmi2", "movbe")),
               ("x86-64", 8, ())],
    "aarch64": [("armv8-a", 8, ())],
}


def arch(machine: str | None = None) -> str:
    """The processor family (``platform.machine()`` by default) as the prebuilt builds name it:
    x86_64 (Windows says AMD64), aarch64 (macOS says arm64) or as given."""
    m = (machine if machine is not None else platform.machine()).lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(m, m)


def march_flags(target: str, machine: str) -> list[str]:
    """The compiler's target flags: the CPU's own instructions for "native" (``-mcpu=native`` on
    ARM, where clang refuses ``-march=native``), else ``-march=TARGET``."""
    if target == "native":
        return ["-mcpu=native"] if machine == "aarch64" else ["-march=native"]
    return [f"-march={target}"]


def kernel_flags(target: str, width: int, machine: str | None = None, system: str = sys.platform) -> list[str]:
    """Every flag of a build: the common ones, the target's, and the vector width (-DVS). On
    Windows (MinGW-w64's gcc or clang) a DLL is position-independent anyway, and it is linked
    statically so that it needs no libwinpthread or libgcc DLL beside it."""
    common = [*(f for f in FLAGS if f != "-fPIC"), "-static"] if system == "win32" else FLAGS
    return [*common, *march_flags(target, arch(machine)), f"-DVS={width}"]


def library_suffix(system: str = sys.platform) -> str:
    return ".dll" if system == "win32" else ".dylib" if system == "darwin" else ".so"


def prebuilt_name(target: str, width: int, system: str = sys.platform) -> str:
    return f"play_kernel-{target}-vs{width}{library_suffix(system)}"


# The WebAssembly build (the static playground, in a browser's Web Worker): wasm32 with 128-bit SIMD,
# one thread; Debian's clang, lld's wasm-ld, wasi-libc (its libm) and compiler-rt's wasm32 builtins. 8 seeds a vector (two v128) in
# register tiles of 2 × 2 (a browser's engine keeps 16 vector registers): measured in Node against
# 4 seeds a vector, tiles of 4 and 16 seeds a vector, the spiral pair trained ~25 % faster, the
# default ~10 % (docs/playground.md).
WASM_VS = 8
WASM_EXPORTS = ("train_steps", "scratch_floats", "block_seeds", "predict_blocks", "predict_one", "malloc", "free")
WASM_FLAGS = ["--target=wasm32-wasi", "-O3", "-fno-math-errno", "-fopenmp-simd", "-msimd128", "-mexec-model=reactor",
              "-Wno-pass-failed", "-Wl,--strip-all", *(f"-Wl,--export={name}" for name in WASM_EXPORTS), f"-DVS={WASM_VS}",
              "-DTILE=2"]
WASM_NAME = "play_kernel.wasm"
WASM_TOOLCHAIN = ("clang, lld (wasm-ld), wasi-libc and clang's WebAssembly builtins (Debian: apt-get install clang lld "
                  "wasi-libc libclang-rt-N-dev-wasm32, N clang's major version)")


def wasm_compiler() -> str | None:
    """``$WASM_CC``, else clang on PATH when it can link for wasm32-wasi: wasm-ld, wasi-libc's
    libc.a and its compiler-rt builtins all found (None: the toolchain is incomplete)."""
    if os.environ.get("WASM_CC"):
        return os.environ["WASM_CC"]
    clang = shutil.which("clang")
    if not clang or not shutil.which("wasm-ld"):
        return None
    return clang if _wasm_libraries(clang) else None


@functools.lru_cache(maxsize=None)
def _wasm_libraries(clang: str) -> bool:
    """Whether clang finds wasi-libc and its builtins for wasm32-wasi (it prints a bare name when not)."""
    target = ["--target=wasm32-wasi"]
    try:
        paths = [subprocess.run([clang, *target, *args], capture_output=True, text=True, timeout=30).stdout.strip()
                 for args in (["-print-file-name=libc.a"], ["-rtlib=compiler-rt", "-print-libgcc-file-name"])]
    except (OSError, subprocess.TimeoutExpired):
        return False
    return all(os.path.isabs(p) and os.path.exists(p) for p in paths)


def compile_wasm(out: Path, cc: str | None = None, source: Path = SOURCE) -> Path:
    """kernel.c compiled to WebAssembly into ``out`` (atomically); RuntimeError naming what is
    missing (the toolchain, or wasi-libc's headers and libraries: the compiler's complaint)."""
    cc = cc or wasm_compiler()
    if not cc:
        raise RuntimeError(f"no WebAssembly toolchain: the static playground needs {WASM_TOOLCHAIN}")
    return compile_kernel(out, WASM_FLAGS, cc=cc, source=source)


def compiler() -> str | None:
    """``$CC``, else the first of cc, gcc and clang on PATH (None: no compiler here)."""
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


def compile_kernel(out: Path, flags: list[str], cc: str | None = None, source: Path = SOURCE) -> Path:
    """kernel.c compiled with ``flags`` into ``out``, atomically (a concurrent process finds a
    whole file or none); RuntimeError naming the compiler's complaint."""
    cc = cc or compiler()
    if not cc:
        raise RuntimeError("no C compiler (cc, gcc or clang) on PATH")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=out.suffix, dir=out.parent)
    os.close(fd)
    try:
        try:
            done = subprocess.run([cc, *flags, "-o", tmp, str(source), "-lm"], capture_output=True, text=True, timeout=120)
        except OSError as exc:  # $CC names no program that runs
            raise RuntimeError(f"{cc} could not run: {exc}") from None
        if done.returncode != 0:
            raise RuntimeError(f"{cc} failed: {done.stderr.strip()[:300]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
