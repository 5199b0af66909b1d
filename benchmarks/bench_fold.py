"""The seed's largest dense network (E2) against its fold: inference time beside FLOPs.

    python benchmarks/bench_fold.py [--batch 4096] [--repeats 7] [--json]

Network: input 128 → 10 hidden Linear layers × 1024 (identity activations) → 128, float32,
as actlab.nets builds it. ``actlab.fold`` merges it into one Linear 128 → 128. FLOPs are
the multiply-adds of the Linear layers (×2); times are medians of --repeats forward passes
of one batch, after a warm-up, on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

import actlab
from actlab import nets


def _flops(model: nn.Module) -> int:
    return sum(2 * m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))


def _median_seconds(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, nargs="+", default=[64, 4096])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    spec = nets.spec_from_sizes("dense", in_shape=(128,), out=128, hidden=(1024,) * 10)
    model = nets.build(spec, "linear", seed=0)
    x = torch.rand(8, 128)
    folded = actlab.fold(model, x)
    rows = []
    for b in args.batch:
        xb = torch.rand(b, 128)
        t_orig, t_fold = _median_seconds(model, xb, args.repeats), _median_seconds(folded, xb, args.repeats)
        rows.append({"batch": b, "original_seconds": t_orig, "folded_seconds": t_fold, "speedup": t_orig / t_fold})
    flop_ratio = _flops(model) / _flops(folded)
    out = {
        "layers_before": folded.fold_report.layers_before,
        "layers_after": folded.fold_report.layers_after,
        "max_rel_error_float64": folded.fold_report.max_rel_error,
        "flops_original": _flops(model),
        "flops_folded": _flops(folded),
        "flop_ratio": flop_ratio,
        "rows": [{**r, "speedup_over_flop_ratio": r["speedup"] / flop_ratio} for r in rows],
        "threads": torch.get_num_threads(),
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{spec.summary()}: {out['layers_before']} layers → {out['layers_after']}; FLOPs {out['flops_original']:,} → "
          f"{out['flops_folded']:,} per input (ratio {flop_ratio:.0f}×); fold error on the example batch {out['max_rel_error_float64']:.1e} (float32 model)")
    for r in out["rows"]:
        print(f"batch {r['batch']:5}: original {r['original_seconds'] * 1e3:8.3f} ms, folded {r['folded_seconds'] * 1e3:7.3f} ms "
              f"→ {r['speedup']:6.0f}× ({r['speedup_over_flop_ratio']:.2f} of the FLOP ratio)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
