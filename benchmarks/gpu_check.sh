#!/usr/bin/env bash
# One prepared GPU check (run on a lent GPU machine from the repo root; see README):
#   bash benchmarks/gpu_check.sh OUTDIR
# the batched trainer's net-steps/s at S = 10^6 (eager and torch.compile'd), a CUDA-vs-CPU
# agreement check, and `actlab xor` on CUDA with 100,000 seeds.
set -uo pipefail
out=${1:-gpu-out}
mkdir -p "$out"
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 - <<'PY' 2>&1 | tee "$out/agreement.txt"
import torch
from actlab import datasets, train
d = datasets.make("xor")
cfg = train.TrainConfig(activation="relu", n_steps=1000, stop_loss=1e-5, dtype="float64")
cpu = train.train(cfg, d.X, d.y, 2000)
gpu = train.train(train.TrainConfig(**{**cfg.__dict__, "device": "cuda"}), d.X, d.y, 2000)
gcfg = train.TrainConfig(**{**cfg.__dict__, "device": "cuda"})
comp = train.train(gcfg, d.X, d.y, 2000, compile=True)
for name, r in (("cuda eager", gpu), ("cuda compiled", comp)):
    print(name, "max |Δparams| vs cpu (float64):", (r.params - cpu.params).abs().max().item(),
          "same stopping step:", bool((r.steps_run == cpu.steps_run).all()),
          "solved cpu/gpu:", int((cpu.final_loss < 1e-3).sum()), int((r.final_loss < 1e-3).sum()))
PY
python3 benchmarks/bench_train.py --skip-cpu --json --repeats 3 > "$out/bench_train_cuda.json"
cat "$out/bench_train_cuda.json"
start=$(date +%s%N)
python3 -m actlab.cli xor --device cuda --seeds 100000 --json > "$out/xor_cuda_100k.json"
echo "actlab xor --device cuda --seeds 100000: $(( ($(date +%s%N) - start) / 1000000 )) ms (4 activations, process start included)"
python3 -c "import json; d=json.load(open('$out/xor_cuda_100k.json')); print({k: (round(v['success_rate'],4), v['success_ci']) for k,v in d['activations'].items()})"
