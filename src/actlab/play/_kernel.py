"""The playground's fused step (kernel.c), compiled once per machine and called through ctypes.

Why: a playground network is tiny (2-4-2-1, 3 × 8), so a torch step is a few dozen operator
calls of microseconds each on a few kilobytes — the dispatch, not the arithmetic, sets the
speed (a (100, 10, 8) × (100, 8, 8) ``bmm`` costs 14–27 µs on the machines measured: a loop
over 100 small matrices). kernel.c runs many minibatch steps per call with seeds as the vector
lanes and register-tiled products; a wide net (8 × 64), in a build of 16-float vectors, one seed at a time
with its units as the lanes (``wide_layout``). ``benchmarks/bench_play.py`` prints both paths.

Where it comes from, in this order (``build()`` says which, ``why_not()`` why none):
1. compiled here with the machine's ``cc`` (or ``$CC``, gcc or clang): ``-O3`` and the CPU's own
   instructions (``-march=native`` on x86, ``-mcpu=native`` on ARM, where clang refuses
   ``-march=native``; ``$ACTLAB_KERNEL_MARCH`` names another target, e.g. the baselines ``x86-64``
   or ``armv8-a``), vectors of 8 or 16 seeds (``block_width``), into a cache folder
   (``$ACTLAB_CACHE``, else ``~/.cache/actlab``, ``~/Library/Caches/actlab`` on macOS,
   ``%LOCALAPPDATA%\\actlab\\Cache`` on Windows) keyed by the source, the flags and the CPU —
   under a second, once;
2. else, where there is no compiler, the build a platform wheel ships (``_prebuilt/``, compiled
   for portable baselines when the wheel was built: ``PREBUILT_LEVELS``; on Windows a DLL from
   MinGW-w64's gcc), the best this CPU runs.
Without either, or for settings the kernel does not cover (maxout and activations other than
linear, relu, leaky_relu, tanh and sigmoid; a GPU), the engine keeps its torch step: the same
results (to float rounding).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import torch

from ._kernel_build import (FLAGS, PREBUILT_LEVELS, SOURCE, WASM_FLAGS, WASM_NAME, WASM_TOOLCHAIN, WASM_VS, arch, compile_kernel,
                            compile_wasm, compiler, kernel_flags, library_suffix, march_flags, prebuilt_name, wasm_compiler)

__all__ = ["load", "reset", "ACTIVATIONS", "covers", "FusedStep", "why_not", "build", "block_width", "cache_dir", "cpu_name",
           # the build rules, from _kernel_build
           "FLAGS", "PREBUILT_LEVELS", "arch", "compile_kernel", "compiler", "kernel_flags", "library_suffix", "march_flags",
           "prebuilt_name", "WASM_FLAGS", "WASM_NAME", "WASM_TOOLCHAIN", "WASM_VS", "compile_wasm", "wasm_compiler"]

PREBUILT = Path(__file__).with_name("_prebuilt")  # a platform wheel's builds (setup.py writes them)
ACTIVATIONS = {"linear": 0, "relu": 1, "tanh": 2, "sigmoid": 3, "leaky_relu": 4}
LEAKY_SLOPE = 0.01  # actlab.activations' leaky_relu
# A network whose step (all seeds) is fewer multiply-adds trains on one thread: it is fast enough
# on one core (3 × 8, 100 seeds: ~700 epochs/s), and on a 2-core machine the other core is the
# browser's (the spiral page drew 23 frames/s with two threads, 27.5 with one). A wide net's
# step (8 × 64: ~10⁸) is worth both cores, and a step of ≥ 1 ms pays for starting the threads.
SHARE_STEP_MACS = 1e7
# A seed of at least this many weights trains one seed at a time, its units the vector lanes,
# when its hidden layers are whole vectors wide: a block of 16 seeds of an 8 × 64 Adam net (5.5 MB
# of parameters and moments) overflows a core's L2, one seed's (0.36 MB) does not. The crossover,
# measured by benchmarks/bench_kernel_layout.py, is in docs/playground.md.
WIDE_LINKS = 4096
THREADS = torch.get_num_threads()  # the kernel's threads: torch's own count at start (OMP_NUM_THREADS, the cores)


ALIGN = 64  # bytes: the kernel's buffers start on a cache line, so no vector of seeds straddles two
_LOSS, _OPT, _REG = {"mse": 0, "bce": 1}, {"sgd": 0, "adam": 1}, {"none": 0, "L1": 1, "L2": 2}

_lock = threading.Lock()
_lib: list = []  # [CDLL or None], once tried
_why: list[str] = []
_built: list[str] = []  # which build was loaded


def _cpu_line(*names: str) -> str:
    try:
        info = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:  # macOS, Windows: no /proc
        return ""
    return next((line for line in info.splitlines() if line.startswith(names)), "")


def _cpu_flags() -> set[str]:
    """The CPU's feature flags (x86 "flags", ARM "Features"); empty where /proc/cpuinfo is absent."""
    return set(_cpu_line("flags", "Features").partition(":")[2].split())


def cpu_name() -> str:
    """The CPU as /proc/cpuinfo names it, with its family and model where given ("AMD EPYC" alone
    does not say which generation), and its widest vector instructions; for benchmark headers."""
    name = _cpu_line("model name").partition(":")[2].strip() or f"{platform.machine() or 'CPU'}, model unknown"
    family = _cpu_line("cpu family").partition(":")[2].strip()
    if family:
        model = _cpu_line("model\t").partition(":")[2].strip()  # "model\t", not "model name"
        name += f" (family {family}, model {model})"
    flags = _cpu_flags()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "NEON" if "asimd" in flags else ""
    return f"{name}, {isa}" if isa else name


def _cpu_key() -> str:
    return platform.machine() + _cpu_line("flags", "Features")


def _march() -> str:
    """The target the kernel is compiled for: ``$ACTLAB_KERNEL_MARCH``, else "native"."""
    return os.environ.get("ACTLAB_KERNEL_MARCH", "").strip() or "native"


def block_width() -> int:
    """Seeds per vector (and block) of this machine's build: ``$ACTLAB_KERNEL_VS`` (8 or 16) if
    set; else 16 — one AVX-512 register — where a native build runs AVX-512 (measured faster on
    Intel and AMD cores alike: docs/playground.md), and 8 elsewhere (one AVX register, two NEON
    ones). Decided by the instructions the build uses, never by the CPU's vendor."""
    forced = os.environ.get("ACTLAB_KERNEL_VS")
    if forced:
        if forced not in ("8", "16"):
            raise ValueError(f"ACTLAB_KERNEL_VS must be 8 or 16, got {forced!r}")
        return int(forced)
    return 16 if _march() == "native" and "avx512f" in _cpu_flags() else 8


def _flags() -> list[str]:
    return kernel_flags(_march(), block_width())


def cache_dir(system: str = sys.platform, env=os.environ) -> Path:
    """Where compiled kernels are kept: ``$ACTLAB_CACHE``, else the user cache folder of the
    platform (``system`` as ``sys.platform`` names it)."""
    if env.get("ACTLAB_CACHE"):
        return Path(env["ACTLAB_CACHE"])
    if system == "win32":
        return Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "actlab" / "Cache"
    if system == "darwin":
        return Path.home() / "Library" / "Caches" / "actlab"
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "actlab"


def cached_build(flags: list[str], suffix: str, build, salt: str = "") -> Path:
    """kernel.c built with ``flags`` by ``build(out)``, kept in the cache folder under a key of the
    source, the flags and ``salt``: built once, then found."""
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(flags).encode() + salt.encode()).hexdigest()[:16]
    out = cache_dir() / f"play_kernel_{key}{suffix}"
    return out if out.exists() else build(out)


def _compile() -> Path:
    flags = _flags()
    return cached_build(flags, library_suffix(), lambda out: compile_kernel(out, flags), _cpu_key())


def _prebuilt() -> tuple[Path, str]:
    """The shipped build this CPU runs best (and that has the forced vector width, if any)."""
    forced = os.environ.get("ACTLAB_KERNEL_VS")
    flags = _cpu_flags()
    for target, width, needs in PREBUILT_LEVELS.get(arch(), []):
        path = PREBUILT / prebuilt_name(target, width)
        if path.exists() and all(f in flags for f in needs) and (not forced or forced == str(width)):
            return path, f"prebuilt for {target}, {width} seeds a vector"
    raise RuntimeError(f"no prebuilt kernel for this CPU ({arch()}) in {PREBUILT}")


def _open(path: Path):
    lib = ctypes.CDLL(str(path))
    lib.train_steps.restype = lib.train_steps_wide.restype = lib.block_seeds.restype = ctypes.c_int
    lib.predict_wide.restype = ctypes.c_int
    lib.scratch_floats.restype = lib.wide_floats.restype = lib.wide_scratch_floats.restype = ctypes.c_long
    return lib


def _load_any():
    """A build compiled here, else a prebuilt one; raises with both reasons when neither loads."""
    try:
        lib = _open(_compile())
        _built.append(f"compiled here for {_march()}, {block_width()} seeds a vector")
        return lib
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as native:
        try:
            path, what = _prebuilt()
            lib = _open(path)
        except (RuntimeError, OSError) as shipped:
            raise RuntimeError(f"{native}; {shipped}") from None
        _built.append(f"{what} ({native})")
        return lib


def load():
    """The kernel (ctypes.CDLL), or None when there is none here (``why_not()`` says why).
    Compiled or found on the first call only; thread-safe."""
    with _lock:
        if not _lib:
            if os.environ.get("ACTLAB_NO_KERNEL"):
                _why.append("ACTLAB_NO_KERNEL is set")
                _lib.append(None)
            else:
                try:
                    _lib.append(_load_any())
                except Exception as exc:  # no compiler and no prebuilt build: the torch step does the work
                    _why.append(f"{type(exc).__name__}: {exc}")
                    _lib.append(None)
        return _lib[0]


def reset() -> None:
    """Forget the build found: the next ``load()`` looks again, under the settings then in force
    (``$ACTLAB_KERNEL_VS``, ``$ACTLAB_KERNEL_MARCH``, ``$CC``). For benchmarks that compare builds."""
    with _lock:
        _lib.clear()
        _why.clear()
        _built.clear()


def build() -> str:
    """Which build of the kernel is in use ("" when none is, or none was tried yet)."""
    return _built[0] if _built and _lib and _lib[0] is not None else ""


def covers(activation: str, device: torch.device) -> bool:
    """Whether the kernel trains networks of this activation here (else the torch step does)."""
    return device.type == "cpu" and activation in ACTIVATIONS


def why_not() -> str:
    """Why the kernel is not used ("" when it is, or was not tried yet)."""
    return _why[0] if _why else ""


def _aligned_zeros(shape) -> np.ndarray:
    """Zeros (float32) starting on an ``ALIGN``-byte boundary. numpy's large arrays start 16 bytes
    into a page, so half the kernel's 32-byte vector loads crossed a cache line: the 8 × 64 net
    trained ~20 % slower, or not, by the luck of each array's address."""
    n = int(np.prod(shape))
    buf = np.zeros(n + ALIGN // 4, np.float32)
    start = (-buf.ctypes.data % ALIGN) // 4
    return buf[start : start + n].reshape(shape)


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


def split_layers(flat, sizes: list[tuple[int, int]]) -> tuple[list, list]:
    """(S, P) parameters (a tensor or an array) → per layer W (S, rows, cols) and b (S, rows),
    views of ``flat``: the flat order is each layer's W then its b."""
    W, b, pos = [], [], 0
    for rows, cols in sizes:
        W.append(flat[:, pos : pos + rows * cols].reshape(-1, rows, cols))
        pos += rows * cols
        b.append(flat[:, pos : pos + rows])
        pos += rows
    return W, b


def wide_layout(sizes: list[tuple[int, int]], width: int) -> bool:
    """Whether a net trains one seed at a time with its units as the vector lanes (kernel.c's
    wide nets) rather than in blocks of seeds: with 16-float vectors (``width``), when a seed has
    at least WIDE_LINKS weights and its hidden layers fill whole vectors (padding a layer of 20
    units to 32 would waste a third). With 8-float vectors the blocks stay: the wide layout was
    slower there on every CPU measured (benchmarks/bench_kernel_layout.py, docs/playground.md)."""
    hidden = [r for r, _ in sizes[:-1]]
    return (width == 16 and sum(r * c for r, c in sizes) >= WIDE_LINKS and bool(hidden)
            and all(r % width == 0 for r in hidden))


class FusedStep:
    """The kernel bound to one engine's state: the parameters and Adam's moments of every seed,
    and each thread's scratch. Two layouts (kernel.c): blocks of VS seeds, (blocks, P, VS), each
    block contiguous and the seeds its vector lanes; or, for a wide net (``wide_layout``), one
    seed after another, (seeds, P'), each layer's weights transposed and its units the lanes. A
    net whose step is large enough (``SHARE_STEP_MACS``) trains on ``THREADS`` threads, each
    taking whole blocks or seeds (started in C: one GIL release a call)."""

    def __init__(self, lib, flat: torch.Tensor, sizes: list[tuple[int, int]], activation: str, settings, batch: int):
        """``flat``: (S, P) the seeds' initial parameters, per layer W (rows, cols) then b (rows,)."""
        self.lib, self.batch, self.sizes = lib, batch, sizes
        self.seeds, P = flat.shape
        VS = lib.block_seeds()
        L, U = len(sizes), max(max(r, c) for r, c in sizes)
        self.rows = (ctypes.c_int * L)(*[r for r, _ in sizes])
        self.cols = (ctypes.c_int * L)(*[c for _, c in sizes])
        self.wide = wide_layout(sizes, VS)
        if self.wide:
            self.params = _aligned_zeros((self.seeds, lib.wide_floats(L, self.rows, self.cols)))
            self.views = self._wide_views(self.params)
            for W, b, (w, bias) in zip(*split_layers(flat.numpy(), sizes), self.views):
                w[:, : W.shape[2], : W.shape[1]] = W.transpose(0, 2, 1)
                bias[:, : b.shape[1]] = b
            lanes, scratch = self.seeds, lib.wide_scratch_floats(L, self.rows, self.cols, batch)
        else:
            blocks = -(-self.seeds // VS)
            padded = np.zeros((blocks * VS, P), np.float32)  # padding seeds: zeros, trained, never shown
            padded[: self.seeds] = flat.numpy()
            self.params = _aligned_zeros((blocks, P, VS))
            self.params[:] = padded.reshape(blocks, VS, P).transpose(0, 2, 1)
            lanes, scratch = blocks * VS, lib.scratch_floats(L, U, batch)
        self.m, self.v = _aligned_zeros(self.params.shape), _aligned_zeros(self.params.shape)
        step_macs = lanes * batch * 3 * sum(r * c for r, c in sizes)  # one step, all seeds
        # a small net trains on one thread: one core is plenty, and the other is left to the browser drawing it
        self.threads = 1 if step_macs < SHARE_STEP_MACS else max(1, min(THREADS, self.params.shape[0]))
        self.scratch = _aligned_zeros(self.threads * scratch)
        self.adam_step, self.adam = 0, settings.optimizer == "adam"  # Adam's step count, kept here
        self.calls = 0  # odd calls visit the blocks backwards
        self.act = (ACTIVATIONS[activation], ctypes.c_float(LEAKY_SLOPE))
        self.args = (L, self.rows, self.cols, *([] if self.wide else [U]), *self.act,
                     _LOSS[settings.loss], _OPT[settings.optimizer], _REG[settings.regularization],
                     ctypes.c_float(settings.regularizationRate if settings.regularization != "none" else 0.0),
                     ctypes.c_float(settings.learningRate))

    def _wide_views(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per layer, views of the wide layout (kernel.c's wide_shape): Wᵀ (S, PAD(cols),
        PAD(rows)) and b (S, PAD(rows))."""
        VS, at, views = self.lib.block_seeds(), 0, []
        pad = lambda n: -(-n // VS) * VS  # noqa: E731
        for r, c in self.sizes:
            R, Cp = pad(r), pad(c)
            views.append((params[:, at : at + Cp * R].reshape(-1, Cp, R), params[:, at + Cp * R : at + Cp * R + R]))
            at += (Cp + 1) * R
        return views

    def read(self, seeds: slice = slice(None)) -> torch.Tensor:
        """(S, P) every seed's parameters now (a copy), as ``flat`` was given; or those of ``seeds``."""
        if self.wide:
            parts = []
            for (r, c), (w, b) in zip(self.sizes, self.views):
                W = w[seeds, :c, :r].transpose(0, 2, 1)  # (n, rows, cols)
                parts += [W.reshape(W.shape[0], -1), b[seeds, :r]]
            return torch.from_numpy(np.concatenate(parts, 1))
        blocks, P, VS = self.params.shape
        if seeds != slice(None):
            block, lane = np.divmod(np.arange(self.seeds)[seeds], VS)
            return torch.from_numpy(self.params[block, :, lane])  # (n, P): a copy (fancy indexing)
        return torch.from_numpy(np.ascontiguousarray(self.params.transpose(0, 2, 1)).reshape(blocks * VS, P)[: self.seeds])

    def predict(self, X: np.ndarray, seeds: slice = slice(None)) -> np.ndarray | None:
        """(S, n) every seed's output on the rows X (n, n_in), or those of a contiguous slice of
        seeds, float32 — the wide layout's forward pass in C (an 8 × 64 net's 64 seeds on 500
        rows: ~10 ms, torch's batched one ~25–35); None for the block layout, whose forward pass
        the engine leaves to torch."""
        if not self.wide:
            return None
        first, stop, step = seeds.indices(self.seeds)
        if step != 1:
            raise ValueError(f"predict takes a contiguous slice of seeds, got step {step}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        out = np.empty((max(stop - first, 0), X.shape[0]), np.float32)
        if out.shape[0] == 0:
            return out
        L = len(self.sizes)
        done = self.lib.predict_wide(_ptr(self.params[first:]), _ptr(self.scratch), L, self.rows, self.cols, *self.act,
                                     self.batch, _ptr(X), X.shape[0], _ptr(out), out.shape[0], self.threads)
        if done < 0:
            raise ValueError("the fused kernel refused its arguments")
        return out

    def run(self, X: np.ndarray, t: np.ndarray, N: int, start: int, n_steps: int) -> int:
        """``n_steps`` minibatch steps over the rows X[start:], targets t[start:]: one or more
        epochs' shuffled orders of N rows each, one after the other (C-contiguous float32), the
        steps running from row ``start`` of the first on into the next; returns the steps taken."""
        bufs = (_ptr(self.params), _ptr(self.m), _ptr(self.v), _ptr(self.scratch), *self.args,
                _ptr(X), _ptr(t), N, X.shape[0] // N, self.batch, start, n_steps, ctypes.c_long(self.adam_step))
        # ctypes lets go of the GIL for the call
        if self.wide:
            done = self.lib.train_steps_wide(*bufs, self.seeds, self.threads)
        else:
            done = self.lib.train_steps(*bufs, self.params.shape[0], self.threads, self.calls % 2)
        if done < 0:
            raise ValueError("the fused kernel refused its arguments")
        if self.adam:
            self.adam_step += done
        self.calls += 1
        return done
