"""The seed's OLS against the exact collapse on the seed's largest configurations.

    python benchmarks/bench_collapse.py [--repeats 3] [--json]

Configurations (DESIGN.md §1, E2–E4 at their maxima):
  dense: input 128 → 10 hidden layers × 1024 → 128
  conv:  3×32×32 → 3 conv 3×3 × 32 filters, 2×2 average pooling after the first two → 128
  rnn:   100×5 → 3 simple RNN layers × 128 → 128

Per configuration, in the same run and on the same float64 copy of the model:
  OLS      the seed's whole procedure: evaluate the model on its train rows (dense 1,024,
           conv 8,192, rnn 1,024) and 1,024 test rows, LinearRegression.fit, predict, score
  collapse actlab.collapse(verify=False): float64 copy, folding of conv/pool pairs (conv:
           3 convs + 2 pools → a 10×10 stride-4 conv and a 3×3 conv), then probing or one
           batched backward
  certify  the certificate on 3 × 64 fresh points (a verified call minus an unverified one)
OLS is timed --repeats times, collapse 5 times per round, after one untimed warm-up round;
medians are reported, and the
ratio is median(OLS) / median(collapse). Max relative error = max|ŷ − y| / max|y| on the
same 1,024 test rows for both maps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

import actlab
from actlab import nets
from actlab.affine import relative_error
from actlab.experiments.collapse import SEED_SAMPLES, ols_baseline

CONFIGS = {
    "dense": dict(in_shape=(128,), out=128, hidden=(1024,) * 10),
    "conv": dict(in_shape=(3, 32, 32), out=128, hidden=(32, 32, 32), pool=(True, True, False)),
    "rnn": dict(in_shape=(100, 5), out=128, hidden=(128,) * 3),
}


def bench(arch: str, repeats: int) -> dict:
    spec = nets.spec_from_sizes(arch, **CONFIGS[arch])
    model = nets.build(spec, "linear", seed=0)
    n_train = SEED_SAMPLES[arch]
    ols_times, col_times, cert_times = [], [], []
    for i in range(repeats + 1):  # the first round is a warm-up
        base = ols_baseline(model, spec.in_shape, n_train, seed=i)
        for _ in range(5):  # collapse is short: five calls per round
            t0 = time.perf_counter()
            amap = actlab.collapse(model, spec.in_shape, verify=False)
            t1 = time.perf_counter()
            certified = actlab.collapse(model, spec.in_shape, seed=i)  # verify=True
            t2 = time.perf_counter()
            if i:
                col_times.append(t1 - t0)
                cert_times.append(max((t2 - t1) - (t1 - t0), 0.0))  # the certificate alone, approximately
        if i:
            ols_times.append(base["seconds"])
    x_test, y_test = base["x_test"], base["y_test"]
    ols_med, col_med = statistics.median(ols_times), statistics.median(col_times)
    return {
        "arch": arch,
        "summary": spec.summary(),
        "n_train": n_train,
        "ols_seconds": ols_med,
        "collapse_seconds": col_med,
        "certify_seconds": statistics.median(cert_times),
        "speedup": ols_med / col_med,
        "ols_max_rel_error": base["max_rel_error"],
        "collapse_max_rel_error": relative_error(amap(x_test).reshape(x_test.shape[0], -1) - y_test, y_test),
        "collapse_method": amap.method + ("+fold" if amap.folded else ""),
        "collapse_folded": list(amap.folded),
        "collapse_residual": certified.residual,
        "rank": amap.rank(),
        "ols_r2": base["r2"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3, help="timed rounds per method (median reported)")
    p.add_argument("--arch", choices=[*CONFIGS, "all"], default="all")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.repeats < 1:
        p.error("--repeats must be ≥ 1")
    archs = list(CONFIGS) if args.arch == "all" else [args.arch]
    rows = []
    for arch in archs:
        rows.append(bench(arch, args.repeats))
        if not args.json:
            print(f"... {arch} done", file=sys.stderr)
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}, indent=2))
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, medians of {args.repeats} rounds")
    head = f"{'arch':6} {'OLS s':>8} {'collapse s':>11} {'speedup':>9} {'OLS max rel err':>16} {'collapse max rel err':>21} {'method':>13} {'certify s':>10}"
    print(head)
    for r in rows:
        print(
            f"{r['arch']:6} {r['ols_seconds']:8.3f} {r['collapse_seconds']:11.4f} {r['speedup']:8.0f}× "
            f"{r['ols_max_rel_error']:16.1e} {r['collapse_max_rel_error']:21.1e} {r['collapse_method']:>13} {r['certify_seconds']:10.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
