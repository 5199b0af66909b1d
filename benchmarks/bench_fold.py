"""Folding against the original model and against torch.fx's fuser, in the same run.

    python benchmarks/bench_fold.py [--batch 64 4096] [--resnet-batch 8 32] [--repeats 7] [--json]

1. The article's largest dense network (E2): input 128 → 10 hidden Linear layers × 1024 (identity
   activations) → 128, float32, as actlab.nets builds it. ``actlab.fold`` merges it into one
   Linear 128 → 128. FLOPs are the multiply-adds of the Linear layers (×2).
2. A ResNet-18 (src/actlab/zoo.py: torchvision's architecture, random weights and BatchNorm
   statistics, eval mode, float32, 3×64×64 inputs): ``actlab.fold`` beside
   ``torch.fx.experimental.optimization.fuse`` of the same model — BatchNorms left, inference
   time, and each one's largest relative error against the original run in float64.
3. Every model of the zoo (ResNet-18, the MobileNetV3-style depthwise net, ViT, nanoGPT, the
   LSTM tagger and their affine twins), batch 8: FLOPs per sample (2 × the multiply-adds that
   actlab.analysis.cost counts), parameters and time before and after ``actlab.fold``, beside
   ``fuse`` (where torch.fx can trace the model), and each one's error in float64.
4. A conv called on two paths, once followed by a BatchNorm (the case torch.fx's fuser gets
   silently wrong): each one's error against the original.

Times are medians of --repeats forward passes of one batch, after a warm-up.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time

from pathlib import Path

import torch
from torch import nn

import actlab
from actlab import nets
from actlab.affine import relative_error

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/ from the repository root
from actlab import zoo  # noqa: E402


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
    p.add_argument("--resnet-batch", type=int, nargs="+", default=[8, 32])
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
    resnet = _resnet(args.resnet_batch, args.repeats)
    zoo_rows = [_zoo_row(name, args.repeats) for name in zoo.ZOO]
    shared = _shared_conv()
    out = {
        "layers_before": folded.fold_report.layers_before,
        "layers_after": folded.fold_report.layers_after,
        "max_rel_error_float64": folded.fold_report.max_rel_error,
        "flops_original": _flops(model),
        "flops_folded": _flops(folded),
        "flop_ratio": flop_ratio,
        "rows": [{**r, "speedup_over_flop_ratio": r["speedup"] / flop_ratio} for r in rows],
        "resnet18": resnet,
        "zoo": zoo_rows,
        "shared_conv": shared,
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
    print(f"\nResNet-18 (3×64×64, float32): BatchNorms {resnet['bn_original']} → actlab.fold {resnet['bn_actlab']}, "
          f"torch.fx fuse {resnet['bn_fx']}; fold took {resnet['fold_seconds']:.2f} s, fuse {resnet['fuse_seconds']:.2f} s")
    print(f"  max rel error vs the original in float64: original(float32) {resnet['err_original']:.1e}, "
          f"actlab.fold {resnet['err_actlab']:.1e}, fx fuse {resnet['err_fx']:.1e}")
    for r in resnet["rows"]:
        print(f"  batch {r['batch']:3}: original {r['original_ms']:7.2f} ms, actlab.fold {r['actlab_ms']:7.2f} ms, "
              f"fx fuse {r['fx_ms']:7.2f} ms → fold/fuse time ratio {r['actlab_ms'] / r['fx_ms']:.2f}")
    print("\nzoo, batch 8: FLOPs per sample and median time, original → fold (fx fuse)")
    for r in zoo_rows:
        fx = "fuse: not traceable" if r["fx_flops"] is None else f"fuse {r['fx_flops']:,} FLOPs, {r['fx_ms']:.2f} ms, err {r['err_fx']:.1e}"
        print(f"  {r['model']:18} {r['flops']:>13,} → {r['fold_flops']:>13,} FLOPs, params {r['params']:,} → {r['fold_params']:,}, "
              f"{r['original_ms']:.2f} → {r['fold_ms']:.2f} ms, err {r['err_fold']:.1e}; {fx}")
    print(f"\nconv on two paths, once with a BatchNorm: error against the original — actlab.fold {shared['err_fold']:.1e}, "
          f"fx fuse {shared['err_fx']:.1e}")
    return 0


def _resnet(batches: list[int], repeats: int) -> dict:
    from torch.fx.experimental.optimization import fuse

    model = zoo.resnet18()
    x = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    folded = actlab.fold(model, x)
    t_fold = time.perf_counter() - t0
    t0 = time.perf_counter()
    fused = fuse(model)
    t_fuse = time.perf_counter() - t0
    with torch.no_grad():
        ref = copy.deepcopy(model).double()(x.double())
        errs = {k: relative_error(m(x).double() - ref, ref) for k, m in (("original", model), ("actlab", folded), ("fx", fused))}
    n_bn = lambda m: sum(isinstance(q, nn.modules.batchnorm._BatchNorm) for q in m.modules())  # noqa: E731
    rows = []
    for b in batches:
        xb = torch.randn(b, 3, 64, 64)
        rows.append({
            "batch": b,
            **{f"{k}_ms": 1e3 * _median_seconds(m, xb, repeats) for k, m in (("original", model), ("actlab", folded), ("fx", fused))},
        })
    return {
        "bn_original": n_bn(model), "bn_actlab": n_bn(folded), "bn_fx": n_bn(fused),
        "fold_seconds": t_fold, "fuse_seconds": t_fuse, **{f"err_{k}": v for k, v in errs.items()}, "rows": rows,
    }


def _zoo_row(name: str, repeats: int) -> dict:
    from torch.fx.experimental.optimization import fuse

    from actlab.analysis.cost import count_macs, n_parameters

    factory, shape, _, _ = zoo.ZOO[name]
    model = factory().eval()
    x = torch.randn(8, *shape, generator=torch.Generator().manual_seed(0))
    folded = actlab.fold(model, x)
    try:
        fused = fuse(model)
    except Exception:  # torch.fx cannot trace it (data-dependent control flow)
        fused = None
    with torch.no_grad():
        ref = copy.deepcopy(model).double()(x.double())
        err = lambda m: relative_error(copy.deepcopy(m).double()(x.double()) - ref, ref)  # noqa: E731
        row = {
            "model": name, "flops": 2 * count_macs(model, x), "fold_flops": 2 * count_macs(folded, x),
            "params": n_parameters(model), "fold_params": n_parameters(folded),
            "original_ms": 1e3 * _median_seconds(model, x, repeats), "fold_ms": 1e3 * _median_seconds(folded, x, repeats),
            "err_fold": err(folded), "fx_flops": None, "fx_ms": None, "err_fx": None,
        }
        if fused is not None:
            row.update(fx_flops=2 * count_macs(fused, x), fx_ms=1e3 * _median_seconds(fused, x, repeats), err_fx=err(fused))
    return row


def _shared_conv() -> dict:
    """One conv on two paths, once followed by a BatchNorm."""
    from torch.fx.experimental.optimization import fuse

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)

        def forward(self, x):
            return self.conv(x) + self.bn(self.conv(x.flip(-1)))

    torch.manual_seed(0)
    model = Shared().eval()
    with torch.no_grad():
        model.bn.running_var.uniform_(0.2, 3.0)
        model.bn.running_mean.uniform_(-1, 1)
    x = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        ref = copy.deepcopy(model).double()(x.double())
        errs = {k: relative_error(m(x).double() - ref, ref) for k, m in (("fold", actlab.fold(model, x)), ("fx", fuse(model)))}
    return {"err_fold": errs["fold"], "err_fx": errs["fx"]}


if __name__ == "__main__":
    sys.exit(main())
