"""Which build of the playground's fused step is fastest on this CPU: interleaved A/B runs.

    python benchmarks/bench_kernel_layout.py                  # every set-up, 5 rounds of 2 s (about 5 minutes)
    python benchmarks/bench_kernel_layout.py --rounds 3 --only wide-adam wide-sgd

The kernel has two choices that depend on the CPU (``actlab.play._kernel``): the vector width
(8 or 16 seeds a vector, ``ACTLAB_KERNEL_VS``) and, for wide nets, the layout (blocks of seeds
as the lanes, or one seed at a time with its units as the lanes: ``wide_layout``). This script
trains the same engine alone (no frames) with each build in turn — round 1: A, B, C, D; round 2:
A, B, C, D; … — so that a drift of the shared machine falls on every build alike, and prints
the median epochs/s of each with its ratio to the 8-wide block build measured in the same rounds.
The rule in ``_kernel.block_width`` and ``_kernel.wide_layout`` is what these tables say.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_play import SETUPS, _engine, machine  # noqa: E402

from actlab.play import _kernel  # noqa: E402

CASES = {
    "default": SETUPS["default"],
    "spiral": {**SETUPS["spiral"], "compare": "none"},
    "wide-adam": {**SETUPS["wide"], "seeds": 64},
    "wide-sgd": {**SETUPS["wide"], "seeds": 64, "optimizer": "sgd"},
    "4x64-adam": {**SETUPS["wide"], "networkShape": "64,64,64,64"},
}
BUILDS = {  # name: (vector width, wide layout for nets whose hidden widths are whole vectors)
    "8 blocks": (8, False),
    "16 blocks": (16, False),
    "8 wide": (8, True),
    "16 wide": (16, True),
}


def use(width: int, wide: bool) -> None:
    """Make the next engine use this build (compiled once into the benchmark's cache)."""
    os.environ["ACTLAB_KERNEL_VS"] = str(width)
    _kernel.reset()
    _kernel.wide_layout = lambda sizes, w: wide and all(r % w == 0 for r, _ in sizes[:-1]) and len(sizes) > 1


def epochs_per_s(values: dict, seconds: float) -> float:
    e = _engine(values, fused=True)
    assert e.fused is not None, _kernel.why_not()
    e.train_epochs(1)
    t0, ep0 = time.perf_counter(), e.epoch
    while time.perf_counter() - t0 < seconds:
        e.train_epochs(1)
    return (e.epoch - ep0) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--seconds", type=float, default=2.0, help="measuring time per build and round (default 2)")
    ap.add_argument("--only", nargs="+", choices=list(CASES), help="these set-ups only")
    ap.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = ap.parse_args()
    os.environ["ACTLAB_CACHE"] = tempfile.mkdtemp(prefix="actlab-bench-")
    here, results = machine(), {}
    for case in args.only or list(CASES):
        values = CASES[case]
        builds = {k: v for k, v in BUILDS.items() if not v[1] or case.startswith(("wide", "4x64"))}
        runs: dict[str, list[float]] = {k: [] for k in builds}
        for _ in range(args.rounds):
            for name, (width, wide) in builds.items():
                use(width, wide)
                runs[name].append(epochs_per_s(values, args.seconds))
        med = {k: statistics.median(v) for k, v in runs.items()}
        results[case] = med
        base = med["8 blocks"]
        cells = ", ".join(f"{k} {v:,.1f} ({v / base:.2f}×)" for k, v in med.items())
        print(f"{case:10s} {cells}", flush=True, file=sys.stderr if args.json else sys.stdout)
    print(f"epochs/s of the engine alone, medians of {args.rounds} interleaved rounds of {args.seconds:g} s; "
          f"2 CPU threads at most; {here}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps({"machine": here, "medians": results}, indent=2))


if __name__ == "__main__":
    main()
