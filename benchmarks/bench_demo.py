"""Where `actlab demo`'s seconds go: the whole command, then each section, on this CPU.

    python benchmarks/bench_demo.py            # the full demo once and --quick three times (about 2 minutes)
    python benchmarks/bench_demo.py --json

Each run is the whole command in a fresh process, as a user runs it once (imports, drawing and
writing the report included). The per-section split is what the run itself recorded in its
results.json ("seconds": each section's computation and figures, in the order they run); what
the sections leave of the whole is start-up, imports and writing the page. The budget: the full
demo ≤ 60 s and --quick ≤ 15 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from actlab.play._kernel import cpu_name

ROOT = Path(__file__).resolve().parent.parent
BUDGET = {"full": 60.0, "quick": 15.0}


def run(quick: bool, out: Path) -> dict:
    """One whole `actlab demo` in a fresh process: its wall time and its sections' seconds."""
    cmd = [str(Path(sys.executable).with_name("actlab")), "demo", "--out", str(out), *(["--quick"] if quick else [])]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - t0
    sections = json.loads((out / "results.json").read_text())["seconds"]
    return {"wall": wall, "sections": sections}


def measure(quick_repeats: int = 3, full_repeats: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"full": [run(False, Path(tmp) / f"f{k}") for k in range(full_repeats)],
                "quick": [run(True, Path(tmp) / f"q{k}") for k in range(quick_repeats)]}
    out = {"cpu": cpu_name(), "budget": BUDGET}
    for name, rs in runs.items():
        median = statistics.median(r["wall"] for r in rs)
        out[name] = {"wall": median, "runs": len(rs),
                     "sections": {k: statistics.median(r["sections"][k] for r in rs) for k in rs[0]["sections"]}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick-repeats", type=int, default=3, help="runs of --quick, median printed (default 3)")
    ap.add_argument("--full-repeats", type=int, default=1, help="runs of the full demo (default 1)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    d = measure(args.quick_repeats, args.full_repeats)
    if args.json:
        print(json.dumps(d, indent=2))
        return
    print(f"actlab demo, whole commands in fresh processes, 2 cores of {d['cpu']}")
    for name in ("full", "quick"):
        r = d[name]
        rest = r["wall"] - sum(r["sections"].values())
        split = ", ".join(f"{k} {v:.1f}" for k, v in r["sections"].items())
        verdict = "within" if r["wall"] <= BUDGET[name] else "OVER"
        print(f"  {name:5s} {r['wall']:5.1f} s (median of {r['runs']}; budget {BUDGET[name]:.0f} s: {verdict}) = "
              f"{split}, start-up, imports and the page {rest:.1f}")


if __name__ == "__main__":
    main()
