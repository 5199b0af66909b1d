"""actlab.audit against the model's own forward pass, on each model of the zoo, in the same run.

    python benchmarks/bench_audit.py [--batch 8] [--repeats 5] [--models resnet18 gpt ...] [--json]

Each model (src/actlab/zoo.py: random weights, eval mode, float32) runs in a fresh Python process:
  forward   median of --repeats calls of model(x) on the batch, after one warm-up call
  cold      the first actlab.audit(model, x) of the process (torch and actlab already imported,
            the model already run once): what `actlab audit` pays
  warm      median of --repeats further audit calls
  map       for affine models, the first access to report.map (the whole model's W, certified on
            the inputs) — built on demand, not part of the audit
The issue's goal: audit ≤ 30× the model's forward time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _one(name: str, batch: int, repeats: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    import actlab
    from bench_fold import _median_seconds  # the model's forward, timed as bench_fold times it
    from actlab import zoo

    factory, shape, expected_affine, expected_first = zoo.ZOO[name]
    model = factory()
    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))
    forward = _median_seconds(model, x, repeats)
    t0 = time.perf_counter()
    report = actlab.audit(model, x)
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        actlab.audit(model, x)
        warm.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    amap = report.map
    map_seconds = time.perf_counter() - t0 if amap is not None else None
    return {
        "model": name, "input": [batch, *shape], "forward_s": forward, "audit_cold_s": cold,
        "audit_warm_s": statistics.median(warm), "ratio_cold": cold / forward, "ratio_warm": statistics.median(warm) / forward,
        "map_s": map_seconds, "is_affine": report.is_affine, "first_nonlinear": report.first_nonlinear,
        "right": report.is_affine == expected_affine and report.first_nonlinear == expected_first,
        "tested": sum(r.tested for r in report.rows), "modules": len(report.rows), "threads": torch.get_num_threads(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--models", nargs="+", default=None, help="zoo names (default: all)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: measure one model in this process
    args = p.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.batch, args.repeats)))
        return 0
    sys.path.insert(0, str(ROOT))
    from actlab import zoo

    rows = []
    for name in args.models or list(zoo.ZOO):
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "--batch", str(args.batch), "--repeats", str(args.repeats)],
            capture_output=True, text=True, check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if not args.json:
            r = rows[-1]
            print(f"{r['model']:20} {'×'.join(map(str, r['input'])):>12}  forward {r['forward_s'] * 1e3:7.1f} ms  "
                  f"audit cold {r['audit_cold_s'] * 1e3:7.0f} ms ({r['ratio_cold']:5.1f}×)  warm {r['audit_warm_s'] * 1e3:7.0f} ms "
                  f"({r['ratio_warm']:5.1f}×)  {'affine' if r['is_affine'] else 'first: ' + str(r['first_nonlinear']):24} "
                  f"{'right' if r['right'] else 'WRONG'}  tested {r['tested']}/{r['modules']}"
                  + (f"  map {r['map_s']:.2f} s" if r["map_s"] is not None else ""), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        worst = max(rows, key=lambda r: r["ratio_warm"])
        print(f"median warm ratio {statistics.median(r['ratio_warm'] for r in rows):.1f}×, worst {worst['ratio_warm']:.1f}× "
              f"({worst['model']}); median cold ratio {statistics.median(r['ratio_cold'] for r in rows):.1f}×; "
              f"{sum(r['right'] for r in rows)}/{len(rows)} verdicts right; {rows[0]['threads']} threads")
    return 0 if all(r["right"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
