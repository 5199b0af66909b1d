"""``actlab.critical_sigma_w2``: the edge of chaos, timed, beside plain bisection.

    python benchmarks/bench_signal.py [--repeats 3] [--json]

For each activation (σ_b² = 0.05, and 0 for the ones whose signal dies there) the whole call
with a cold cache (the library remembers its answers: the cache is cleared before each run),
median over ``--repeats``; beside it the baseline measured in the same run: the same χ₁(σ_w²)
on the same q* search, root found by sixty halvings of [1e-3, 1e3] in log σ_w² (actlab's own
method until it switched to regula falsi, and what a reader would write first). Both answers
are printed: they agree to 1e-12.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch

from actlab.theory._gauss import second_moments
from actlab.theory.signal import Q_GRID, Q_TINY, _critical, _q_star, _signal, critical_sigma_w2

POINTS = (("tanh", 0.05), ("hardtanh", 0.05), ("softsign", 0.05), ("sigmoid", 0.05), ("gelu", 0.05), ("selu", 0.0))


def _chi(name: str, w2: float, b2: float) -> float:
    q = _q_star(name, w2, b2)
    at = max(q, Q_TINY) if math.isfinite(q) else float(Q_GRID[-1])
    return float(w2 * second_moments(name, torch.tensor([at], dtype=torch.float64))[1][0])


def bisection(name: str, b2: float) -> float:
    lo, hi = 1e-3, 1e3
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if _chi(name, mid, b2) < 1.0 else (lo, mid)
    return math.sqrt(lo * hi)


def _time(fn) -> tuple[float, float]:
    _critical.cache_clear()
    _signal.cache_clear()
    t0 = time.perf_counter()
    v = fn()
    return time.perf_counter() - t0, v


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(2)
    rows = []
    for name, b2 in POINTS:
        ours = [_time(lambda: critical_sigma_w2(name, b2)) for _ in range(args.repeats)]
        base = [_time(lambda: bisection(name, b2)) for _ in range(args.repeats)]
        t_ours, t_base = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in base)
        w2 = ours[0][1]
        rows.append({"activation": name, "sigma_b2": b2, "critical_sigma_w2": w2, "bisection": base[0][1],
                     "q_star": _signal(name, w2, b2).q_star, "seconds": t_ours, "bisection_seconds": t_base,
                     "speedup": t_base / t_ours})
    from actlab.play._kernel import cpu_name

    out = {"cpu": cpu_name(), "repeats": args.repeats, "rows": rows}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"critical_sigma_w2 on {out['cpu']}, cold cache, median of {args.repeats}:")
    for r in rows:
        print(f"  {r['activation']:9s} σ_b² {r['sigma_b2']:<5g} σ_w² {r['critical_sigma_w2']:.6f} (bisection {r['bisection']:.6f}) "
              f"q* {r['q_star']:.4g}  {r['seconds']:.2f} s vs bisection {r['bisection_seconds']:.2f} s: {r['speedup']:.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
