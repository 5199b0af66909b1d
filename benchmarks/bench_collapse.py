"""The article's OLS against the exact collapse on the article's largest configurations.

    python benchmarks/bench_collapse.py [--repeats 3] [--arch conv] [--json]

Configurations (docs/design.md §1, E2–E4 at their maxima):
  dense: input 128 → 10 hidden layers × 1024 → 128
  conv:  3×32×32 → 3 conv 3×3 × 32 filters, 2×2 average pooling after the first two → 128
  rnn:   100×5 → 3 simple RNN layers × 128 → 128

Per configuration, in the same run and on the same model:
  OLS       the article's whole procedure: evaluate the model on its train rows (dense 1,024,
            conv 8,192, rnn 1,024) and 1,024 test rows, LinearRegression.fit, predict, score
  cold      the first actlab.collapse(model, in_shape) of a fresh process — the whole public
            call, certificate included (torch and actlab already imported, the model built):
            what a user's first call costs. Measured in a child process per configuration.
  warm      later calls of the same whole public call (certificate included). Each round runs
            the OLS, then untimed collapse calls for SETTLE_S seconds (at least two), then the
            timed calls: the first two or three calls after the OLS's seconds of numpy/OpenBLAS
            work are 1.5–4× slower while torch's threads and the caches come back (printed
            as "first after OLS"), which is not what a later call costs.
  parts     collapse(verify=False): float64 copy, folding of conv/pool pairs (conv: 3 convs +
            2 pools → a 10×10 stride-4 conv and a 3×3 conv), then probing or one batched
            backward; and the certificate alone (a verified call minus an unverified one)
OLS is timed --repeats times, the collapse calls 5 times per round, after one untimed warm-up
round; medians are reported. Ratios are median(OLS) / the collapse figure. Max relative
error = max|ŷ − y| / max|y| on the same 1,024 test rows for both maps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import actlab
from actlab import nets
from actlab.affine import relative_error
from actlab.experiments.collapse import ARTICLE_SAMPLES, ols_baseline

SETTLE_S = 0.2  # untimed collapse calls after each OLS before the timed ones

CONFIGS = {
    "dense": dict(in_shape=(128,), out=128, hidden=(1024,) * 10),
    "conv": dict(in_shape=(3, 32, 32), out=128, hidden=(32, 32, 32), pool=(True, True, False)),
    "rnn": dict(in_shape=(100, 5), out=128, hidden=(128,) * 3),
}


def _cold(arch: str) -> float:
    """Seconds of the first whole collapse call in a fresh process (child)."""
    code = (
        "import time, sys\n"
        "sys.path.insert(0, %r)\n"
        "from bench_collapse import CONFIGS\n"
        "import actlab\n"
        "from actlab import nets\n"
        "spec = nets.spec_from_sizes(%r, **CONFIGS[%r])\n"
        "model = nets.build(spec, 'linear', seed=0)\n"
        "t0 = time.perf_counter()\n"
        "actlab.collapse(model, spec.in_shape)\n"
        "print(time.perf_counter() - t0)\n"
    ) % (str(Path(__file__).resolve().parent), arch, arch)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench(arch: str, repeats: int) -> dict:
    spec = nets.spec_from_sizes(arch, **CONFIGS[arch])
    model = nets.build(spec, "linear", seed=0)
    n_train = ARTICLE_SAMPLES[arch]
    cold = statistics.median(_cold(arch) for _ in range(3))
    ols_times, col_times, cert_times, whole_times, first_times = [], [], [], [], []
    for i in range(repeats + 1):  # the first round is a warm-up
        base = ols_baseline(model, spec.in_shape, n_train, seed=i)
        t_settle, n_settle = time.perf_counter(), 0
        while n_settle < 2 or time.perf_counter() - t_settle < SETTLE_S:  # untimed (see the docstring)
            t0 = time.perf_counter()
            actlab.collapse(model, spec.in_shape, seed=i)
            if i and not n_settle:
                first_times.append(time.perf_counter() - t0)
            n_settle += 1
        for _ in range(5):  # collapse is short: five calls per round
            t0 = time.perf_counter()
            amap = actlab.collapse(model, spec.in_shape, verify=False)
            t1 = time.perf_counter()
            certified = actlab.collapse(model, spec.in_shape, seed=i)  # verify=True
            t2 = time.perf_counter()
            if i:
                col_times.append(t1 - t0)
                whole_times.append(t2 - t1)
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
        "cold_seconds": cold,
        "warm_seconds": statistics.median(whole_times),
        "cold_ratio": ols_med / cold,
        "warm_ratio": ols_med / statistics.median(whole_times),
        "first_after_ols_seconds": statistics.median(first_times),
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
    print("whole public call actlab.collapse(model, in_shape), certificate included:")
    print(f"{'arch':6} {'OLS s':>8} {'cold s':>8} {'cold ratio':>11} {'warm s':>8} {'warm ratio':>11} {'first after OLS s':>18}")
    for r in rows:
        print(f"{r['arch']:6} {r['ols_seconds']:8.3f} {r['cold_seconds']:8.4f} {r['cold_ratio']:10.0f}× "
              f"{r['warm_seconds']:8.4f} {r['warm_ratio']:10.0f}× {r['first_after_ols_seconds']:18.4f}")
    print("parts (warm): building W and b without the certificate, and the certificate alone:")
    head = f"{'arch':6} {'collapse s':>11} {'ratio':>7} {'certify s':>10} {'OLS max rel err':>16} {'collapse max rel err':>21} {'method':>13}"
    print(head)
    for r in rows:
        print(
            f"{r['arch']:6} {r['collapse_seconds']:11.4f} {r['speedup']:6.0f}× {r['certify_seconds']:10.4f} "
            f"{r['ols_max_rel_error']:16.1e} {r['collapse_max_rel_error']:21.1e} {r['collapse_method']:>13}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
