"""Where the compiled training step spends its GPU time (run on a lent GPU).

    PYTHONPATH=src python3 benchmarks/gpu_profile.py [--seeds 1000000]
"""

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from actlab import datasets, train

p = argparse.ArgumentParser()
p.add_argument("--seeds", type=int, default=1_000_000)
p.add_argument("--eager", action="store_true")
args = p.parse_args()
d = datasets.make("xor")
cfg = train.TrainConfig(activation="tanh", n_steps=20, record_every=0, device="cuda")
train.train(cfg, d.X, d.y, args.seeds, compile=not args.eager)  # compile and warm up
torch.cuda.synchronize()
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    train.train(cfg, d.X, d.y, args.seeds, compile=not args.eager)
    torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70))
