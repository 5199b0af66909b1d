"""``actlab.sweep``'s overhead per cell beside a bare ``train_many`` call on the same cells.

    python benchmarks/bench_sweep.py [--repeats 3] [--json]

The cells: XOR, the article's 2-4-1 net, 2,000 seeds, 5,000 Adam steps, four activations — each
a second or two on 2 cores. "bare" is ``train_many([config], X, y, seeds)`` per cell, timed in the
same process; "sweep" is the whole ``actlab.sweep(spec, fresh_folder)`` call (spec parsing, data,
the success statistics, one fsync'd line per cell). Both alternate, ``--repeats`` times each; the
medians and their ratio are printed. The target: at most 5 % more for cells of a second or more.
It also times how long ``--ray`` takes to refuse an address nobody listens on (a closed port on
loopback; an address that drops packets waits the whole ``CONNECT_TIMEOUT_S``), where Ray is installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch

from actlab import train as tr
from actlab.studies import parse_spec, sweep
from actlab.studies.cell import cell_data, train_config

SPEC = """
seeds = 2000
[fixed]
dataset = "xor"
hidden = [4]
n_steps = 5000
optimizer = "adam"
lr = 0.01
[grid]
activation = ["sigmoid", "tanh", "relu", "gelu"]
"""


def bare(spec) -> float:
    t0 = time.perf_counter()
    for cell in spec.cells():
        X, y = cell_data(cell)
        tr.train_many([train_config(cell, "cpu")], X, y, spec.seeds)
    return time.perf_counter() - t0


def swept(spec) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        sweep(spec, d)
        return time.perf_counter() - t0


def refusal_seconds() -> float | None:
    """Seconds until ``sweep(..., ray="127.0.0.1:9")`` refuses (nothing listens there), or None without Ray."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    from actlab.studies import SpecError

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        try:
            sweep(parse_spec(SPEC), f"{tmp}/o", ray="127.0.0.1:9")
        except SpecError:
            return time.perf_counter() - t0
    raise RuntimeError("an address nobody listens on was not refused")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(2)
    spec = parse_spec(SPEC)
    bare(spec)  # warm: the first call pays for torch's kernels' first use
    b, s = [], []
    for _ in range(args.repeats):
        b.append(bare(spec))
        s.append(swept(spec))
    from actlab.play._kernel import cpu_name

    n = len(spec.cells())
    out = {"cpu": cpu_name(), "cells": n, "seeds": spec.seeds, "repeats": args.repeats, "bare_s": statistics.median(b),
           "sweep_s": statistics.median(s)}
    out["ratio"] = out["sweep_s"] / out["bare_s"]
    out["overhead_per_cell_ms"] = 1e3 * (out["sweep_s"] - out["bare_s"]) / n
    out["bare_per_cell_s"] = out["bare_s"] / n
    out["ray_refusal_s"] = refusal_seconds()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{n} cells × {spec.seeds} seeds on {out['cpu']}, median of {args.repeats}: bare train_many {out['bare_s']:.2f} s "
          f"({out['bare_per_cell_s']:.2f} s a cell), sweep {out['sweep_s']:.2f} s: ×{out['ratio']:.3f}, "
          f"{out['overhead_per_cell_ms']:+.0f} ms a cell")
    if out["ray_refusal_s"] is not None:
        print(f"--ray 127.0.0.1:9 (nothing listening) refused after {out['ray_refusal_s']:.2f} s, before anything was written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
