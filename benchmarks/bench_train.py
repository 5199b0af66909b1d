"""The vectorised many-seed trainer against a plain per-seed loop, and its throughput.

    python benchmarks/bench_train.py [--json] [--loop-seeds 20] [--cuda-seeds 1000000]

Set-up: XOR, 2-4-1 ReLU (the article's), MSE, Adam 0.01, 1,000 full-batch steps, float32,
no early stopping (so both sides run every step). A net-step is one seed's one training
step. The CPU throughput is also given for tanh, whose torch kernel is 8× slower than
sigmoid's on this CPU (176 µs against 21 µs for 160,000 floats).

  loop     actlab.train.train_reference — nn.Sequential + torch.optim.Adam, one seed at a
           time — timed on --loop-seeds seeds and scaled to S = 1,000 (it would take minutes)
  batched  actlab.train.train with S = 1,000 seeds at once, in the same run
  cpu      batched at S = 10,000: net-steps per second (median of 3 runs)
  cuda     when a GPU is present: S = --cuda-seeds, the step eager and torch.compile'd
           (a CUDA-graph replay of the step was tried on an H200: no faster, the GPU is busy)
Medians are reported, with the ratio to the loop measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from actlab import datasets, train

XOR = datasets.make("xor")


def _config(activation: str = "relu", **kw) -> train.TrainConfig:
    return train.TrainConfig(activation=activation, hidden=(4,), n_steps=1000, record_every=0, **kw)


def _throughput(cfg, n_seeds: int, repeats: int, compile: bool = False) -> dict:
    times = []
    for i in range(repeats + 1):  # the first run warms up (and compiles)
        if cfg.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        run = train.train(cfg, XOR.X, XOR.y, n_seeds, compile=compile)
        if cfg.device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    solved = float((run.final_loss < 1e-3).double().mean())
    return {"seeds": n_seeds, "seconds": sec, "net_steps_per_s": n_seeds * cfg.n_steps / sec, "solved_fraction": solved}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--loop-seeds", type=int, default=20, help="seeds timed in the per-seed loop (scaled to 1,000)")
    p.add_argument("--cpu-seeds", type=int, default=10_000)
    p.add_argument("--cuda-seeds", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-cpu", action="store_true", help="only the CUDA figures")
    args = p.parse_args()
    out: dict = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    cfg = _config()
    if not args.skip_cpu:
        loop_times = []
        for s in range(args.loop_seeds):
            t0 = time.perf_counter()
            train.train_reference(cfg, XOR.X, XOR.y, s)
            loop_times.append(time.perf_counter() - t0)
        per_seed = statistics.median(loop_times)
        batched = _throughput(cfg, 1000, args.repeats)
        out["loop_seconds_per_seed"] = per_seed
        out["loop_seconds_1000_seeds"] = per_seed * 1000
        out["batched_1000"] = batched
        out["speedup_vs_loop"] = per_seed * 1000 / batched["seconds"]
        out["cpu"] = _throughput(cfg, args.cpu_seeds, args.repeats)
        out["cpu_tanh"] = _throughput(_config("tanh"), args.cpu_seeds, args.repeats)
    if torch.cuda.is_available():
        gcfg = _config(device="cuda")
        out["cuda_device"] = torch.cuda.get_device_name()
        for key, comp in (("cuda_eager", False), ("cuda_compiled", True)):
            try:
                out[key] = _throughput(gcfg, args.cuda_seeds, args.repeats, compile=comp)
            except Exception as exc:  # report and go on: one variant's failure must not hide the others
                out[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            print(f"{key}: {out[key]}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"torch {out['torch']}, {out['threads']} CPU threads; XOR 2-4-1 relu, Adam, 1,000 steps, float32")
    if "cpu" in out:
        b = out["batched_1000"]
        print(f"per-seed loop   {out['loop_seconds_per_seed'] * 1e3:8.1f} ms/seed  → {out['loop_seconds_1000_seeds']:7.1f} s for 1,000 seeds (scaled from {args.loop_seeds})")
        print(f"batched S=1000  {b['seconds']:8.3f} s            → {out['speedup_vs_loop']:7.0f}× the loop")
        c = out["cpu"]
        print(f"batched S={c['seeds']:,}  {c['seconds']:6.3f} s  → {c['net_steps_per_s']:.3g} net-steps/s on the CPU")
        c = out["cpu_tanh"]
        print(f"  same, tanh    {c['seconds']:6.3f} s  → {c['net_steps_per_s']:.3g} net-steps/s on the CPU")
    for key in ("cuda_eager", "cuda_compiled"):
        if key in out and "error" not in out[key]:
            c = out[key]
            print(f"{key:14} S={c['seeds']:,}: {c['seconds']:.3f} s → {c['net_steps_per_s']:.3g} net-steps/s on {out['cuda_device']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
