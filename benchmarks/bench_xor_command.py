"""The whole `actlab xor` command against a plain batched PyTorch loop, each as a fresh process.

    python benchmarks/bench_xor_command.py [--seeds 10000] [--steps 1000] [--activation relu] [--repeats 3] [--json]

  actlab     `actlab xor --activations A --seeds S --steps T --json` (stdout discarded): import,
             training with its recording (loss history, early stopping, tracked seed),
             statistics, JSON — what a user waits for
  plain      benchmarks/plain_xor_loop.py: per-seed parameters as batched tensors, autograd,
             torch.optim.Adam, the same S × T steps (no stopping, no recording)
Both wall times are medians of --repeats runs; the ratio is plain / actlab. Then, in this
process, the parts of actlab's run: actlab.train without recording (record_every=0, no stop
rules, nothing tracked) against train as the command configures it, and the statistics.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _wall(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _parts(seeds: int, steps: int, activation: str) -> dict:
    import dataclasses

    import torch

    from actlab import train as tr
    from actlab.experiments.xor import XorConfig, _stats
    from actlab import datasets

    config = XorConfig(activations=(activation,), n_seeds=seeds, n_steps=steps)
    data = datasets.make("xor")
    cfg = config.train_config(activation)
    bare = dataclasses.replace(cfg, record_every=0, stop_loss=None, stop_delta=None)
    seed_t = torch.arange(seeds)
    tr.train(bare, data.X, data.y, 8)  # warm-up
    t0 = time.perf_counter()
    tr.train(bare, data.X, data.y, seed_t)
    t_bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = tr.train(cfg, data.X, data.y, seed_t, track=[0], track_every=config.track_every)
    t_rec = time.perf_counter() - t0
    t0 = time.perf_counter()
    _stats(config, activation, data, run)
    t_stats = time.perf_counter() - t0
    return {"train_bare_s": t_bare, "train_recorded_s": t_rec, "recording_s": t_rec - t_bare, "statistics_s": t_stats}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10000)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--activation", default="relu", choices=["relu", "tanh", "sigmoid"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    actlab_cmd = [str(Path(sys.executable).with_name("actlab")), "xor", "--activations", args.activation,
                  "--seeds", str(args.seeds), "--steps", str(args.steps), "--json"]
    plain_cmd = [sys.executable, str(HERE / "plain_xor_loop.py"), "--seeds", str(args.seeds), "--steps", str(args.steps),
                 "--activation", args.activation]
    subprocess.run(actlab_cmd, check=True, stdout=subprocess.DEVNULL)  # warm the file cache once
    t_actlab = _wall(actlab_cmd, args.repeats)
    t_plain = _wall(plain_cmd, args.repeats)
    parts = _parts(args.seeds, args.steps, args.activation)
    out = {"seeds": args.seeds, "steps": args.steps, "activation": args.activation, "actlab_command_s": t_actlab,
           "plain_loop_s": t_plain, "ratio": t_plain / t_actlab, **parts}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{args.seeds:,} seeds × {args.steps:,} steps, {args.activation}, fresh processes, medians of {args.repeats}:")
    print(f"  actlab xor (whole command)      {t_actlab:6.2f} s")
    print(f"  plain batched loop (whole run)  {t_plain:6.2f} s   → actlab is {out['ratio']:.2f}× faster")
    print(f"  in this process: train without recording {parts['train_bare_s']:.2f} s, with the command's recording "
          f"{parts['train_recorded_s']:.2f} s (recording {parts['recording_s']:+.2f} s), statistics {parts['statistics_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
