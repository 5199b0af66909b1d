"""actlab.ntk and actlab.kernel against neural-tangents (JAX), the reference: time, error and
memory, side by side.

    python benchmarks/bench_kernels.py --nt-python /tmp/ntvenv/bin/python
    python benchmarks/bench_kernels.py             # actlab alone, if neural-tangents is not installed

The task is the issue's: the NTK at depth 5 of 500 × 500 inputs of dimension 5 (standard
normal), float64, σ_w² = 1, σ_b² = 0.05, on 2 cores. "first" is the first call in a fresh
process (actlab: the call alone, ``import actlab`` printed beside it; NT: the call with its jit
compilation, ``import jax`` not counted), "warm" the median of
``--repeats`` more calls; for the closed forms (relu, gelu, erf: tens of milliseconds on both
sides, where a shared machine's noise is as large as the difference) the median of ``--rounds``
such medians, the two libraries timed in turn. The error is the largest |K − K_ref| / max|K_ref| on the first
``--subset`` inputs, K_ref the same kernel by actlab's direct two-dimensional rule for every
pair (TOL = 0: no Hermite series), an independent computation; for relu the closed form.
NT's "deg 100" error is its numerical layer with a four times finer rule (on the subset only):
what more of NT's time would buy.

The second table is the article's convolutional architecture (two 3×3 convolutions without
padding, relu, 2×2 average pooling, a dense readout) by ``actlab.kernel`` on ``--images`` RGB
images of 8 × 8 against NT's stax serial of the same layers: the NNGP alone, then NNGP and NTK
in one pass; first call, warm median, the peak resident memory above the process's baseline
(inputs made, library imported) and the largest difference between the two kernels relative to
their largest entry. The third, ``nn.RNN`` (tanh, 8 hidden units read, last state, a linear
readout) over ``--steps`` steps of ``--sequences`` sequences: no peer (neural-tangents has no
recurrent layer).

neural-tangents lives in a throwaway virtual environment, never as an actlab dependency (newer
jax breaks it):

    python3.11 -m venv /tmp/ntvenv
    /tmp/ntvenv/bin/pip install jax==0.4.30 jaxlib==0.4.30 tf2jax==0.3.6 neural-tangents==0.6.5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ACTIVATIONS = ("relu", "gelu", "erf", "tanh", "softplus", "selu", "hardtanh", "hardsigmoid")  # NT: closed forms for relu, gelu, erf; deg-25 quadrature else
CLOSED = ("relu", "gelu", "erf")  # closed forms on both sides
HERE = Path(__file__).resolve().parent


def _ours_fresh(name: str, args) -> tuple[float, float]:
    """A fresh process: the seconds of ``import actlab`` (torch with it) and of the first call."""
    code = (f"import time; t0 = time.perf_counter(); import torch, actlab; t1 = time.perf_counter(); "
            f"torch.set_num_threads(2); "
            f"x = torch.randn({args.n}, {args.dim}, dtype=torch.float64, generator=torch.Generator().manual_seed(0)); "
            f"t2 = time.perf_counter(); "
            f"actlab.ntk({name!r}, x, depth={args.depth}, sigma_w2={args.sigma_w2}, sigma_b2={args.sigma_b2}); "
            "print(t1 - t0, time.perf_counter() - t2)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def measure_ours(args, x) -> dict:
    import torch

    import actlab
    from actlab.theory import _hermite as _gauss

    torch.set_num_threads(2)
    xt = torch.from_numpy(x)
    kw = dict(depth=args.depth, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2)
    out = {}
    for name in ACTIVATIONS:
        imported, first = _ours_fresh(name, args)
        warm = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            k = actlab.ntk(name, xt, **kw)
            warm.append(time.perf_counter() - t0)
        tol, _gauss.TOL = _gauss.TOL, 0.0  # the reference: every pair by the direct rule
        try:
            ref = actlab.ntk(name, xt[: args.subset], **kw).numpy()
        finally:
            _gauss.TOL = tol
        out[name] = {"import": imported, "first": first, "warm": statistics.median(warm), "subset": k[: args.subset, : args.subset].numpy(),
                     "ref": ref}
    return out


def warm_ours(args, x, names) -> dict:
    """Warm medians alone (this process), for the extra rounds."""
    import torch

    import actlab

    xt = torch.from_numpy(x)
    out = {}
    for name in names:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            actlab.ntk(name, xt, depth=args.depth, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2)
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def measure_nt(args, x, names=ACTIVATIONS) -> dict | None:
    if not args.nt_python:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, x=x, subset=args.subset, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2, depth=args.depth,
                 repeats=args.repeats, activations=np.array(names))
        env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2")
        subprocess.run([args.nt_python, str(HERE / "_nt_worker.py"), str(src), str(dst)], check=True, env=env)
        d = np.load(dst)
        return {n: {"first": float(d[f"{n}_first"]), "warm": float(d[f"{n}_warm"]), "subset": d[f"{n}_subset"],
                    "fine": d[f"{n}_fine"]} for n in names}


_CONV_CODE = """
import json, resource, statistics, sys, time
import numpy as np, torch
from torch import nn
import actlab
torch.set_num_threads(2)
a = json.loads(sys.argv[1])
x = torch.from_numpy(np.load(a["src"])["images"]).permute(0, 3, 1, 2).contiguous()
model = nn.Sequential(nn.Conv2d(3, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 1))
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base, out = peak(), {}
for label, get in (("nngp", "nngp"), ("both", ("nngp", "ntk"))):
    t0 = time.perf_counter(); k = actlab.kernel(model, x, get=get, sigma_w2=a["sigma_w2"], sigma_b2=a["sigma_b2"])
    first = time.perf_counter() - t0
    warm = []
    for _ in range(a["repeats"]):
        t0 = time.perf_counter(); k = actlab.kernel(model, x, get=get, sigma_w2=a["sigma_w2"], sigma_b2=a["sigma_b2"])
        warm.append(time.perf_counter() - t0)
    out[label] = {"first": first, "warm": statistics.median(warm), "peak": peak() - base}
    np.save(a["dst"] + "_" + label + ".npy", (k if label == "nngp" else k.ntk).numpy())
class Last(nn.Module):
    def __init__(self):
        super().__init__(); self.rnn, self.out = nn.RNN(5, 8, batch_first=True), nn.Linear(8, 1)
    def forward(self, s):
        return self.out(self.rnn(s)[1][-1])
seqs = torch.randn(a["sequences"], a["steps"], 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
times = []
for _ in range(a["repeats"] + 1):
    t0 = time.perf_counter(); actlab.kernel(Last(), seqs, sigma_w2=a["sigma_w2"], sigma_b2=a["sigma_b2"]); times.append(time.perf_counter() - t0)
out["rnn"] = {"first": times[0], "warm": statistics.median(times[1:])}
print(json.dumps(out))
"""


def measure_architectures(args) -> dict:
    """actlab's conv and RNN kernels in a fresh process, NT's conv kernel in its own: {ours, nt or None}."""
    images = np.random.default_rng(1).standard_normal((args.images, 8, 8, 3))
    with tempfile.TemporaryDirectory() as tmp:
        src = str(Path(tmp) / "images.npz")
        np.savez(src, images=images, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2, repeats=args.repeats)
        conf = dict(src=src, dst=str(Path(tmp) / "ours"), sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2, repeats=args.repeats,
                    sequences=args.sequences, steps=args.steps)
        out = subprocess.run([sys.executable, "-c", _CONV_CODE, json.dumps(conf)], check=True, capture_output=True, text=True)
        ours = json.loads(out.stdout)
        kernels = {label: np.load(f"{conf['dst']}_{label}.npy") for label in ("nngp", "both")}
        nt = None
        if args.nt_python:
            dst = Path(tmp) / "nt.npz"
            env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2")
            subprocess.run([args.nt_python, str(HERE / "_nt_worker.py"), src, str(dst)], check=True, env=env)
            d = np.load(dst)
            nt = {label: {"first": float(d[f"{label}_first"]), "warm": float(d[f"{label}_warm"]), "peak": float(d[f"{label}_peak"]),
                          "diff": _err(kernels[label], d[f"{label}_kernel"])} for label in ("nngp", "both")}
    return {"ours": ours, "nt": nt}


def _print_architectures(args, arch: dict) -> None:
    ours, nt = arch["ours"], arch["nt"]
    print(f"\nThe article's conv architecture (3×3 conv, relu, 3×3 conv, relu, 2×2 average pool, dense) by actlab.kernel, "
          f"{args.images} RGB images of 8 × 8, float64; peak = resident memory above the process's baseline")
    head = f"{'kernels':<12} {'actlab first':>12} {'warm':>8} {'peak':>9}"
    if nt is not None:
        head += f"   {'NT first':>9} {'warm':>8} {'peak':>9} {'difference':>10}   {'warm ratio':>10}"
    print(head)
    for label, name in (("nngp", "NNGP"), ("both", "NNGP + NTK")):
        o = ours[label]
        line = f"{name:<12} {o['first']:>11.3f}s {o['warm']:>7.3f}s {o['peak']:>6.0f} MiB"
        if nt is not None:
            n = nt[label]
            line += (f"   {n['first']:>8.3f}s {n['warm']:>7.3f}s {n['peak']:>6.0f} MiB {n['diff']:>10.1e}   "
                     f"{n['warm'] / o['warm']:>9.1f}×")
        print(line)
    r = ours["rnn"]
    print(f"nn.RNN (tanh, last state, linear readout), NNGP and NTK, {args.sequences} sequences of {args.steps} steps: "
          f"first {r['first']:.3f} s, warm {r['warm']:.3f} s (neural-tangents has no recurrent layer)")


def _err(k, ref) -> float:
    return float(np.abs(k - ref).max() / np.abs(ref).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nt-python", default=os.environ.get("ACTLAB_NT_PYTHON"),
                    help="the Python of a venv with neural-tangents (or $ACTLAB_NT_PYTHON); none: actlab alone")
    ap.add_argument("--n", type=int, default=500, help="inputs (default 500)")
    ap.add_argument("--dim", type=int, default=5, help="input dimension (default 5)")
    ap.add_argument("--depth", type=int, default=5, help="hidden layers (default 5)")
    ap.add_argument("--sigma-w2", type=float, default=1.0)
    ap.add_argument("--sigma-b2", type=float, default=0.05)
    ap.add_argument("--subset", type=int, default=60, help="inputs on which the error is measured (default 60)")
    ap.add_argument("--repeats", type=int, default=5, help="warm calls, median printed (default 5)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="rounds of warm calls of the closed forms, the two libraries in turn (default 5; median of medians)")
    ap.add_argument("--images", type=int, default=200, help="images of the conv architecture (default 200)")
    ap.add_argument("--sequences", type=int, default=200, help="sequences of the RNN (default 200)")
    ap.add_argument("--steps", type=int, default=20, help="their steps (default 20)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    x = np.random.default_rng(0).standard_normal((args.n, args.dim))
    ours, nt = measure_ours(args, x), measure_nt(args, x)
    # the closed forms take tens of milliseconds on both sides, where a shared machine's noise is as large as the
    # difference: more rounds, each library in turn, and the median of the rounds' medians
    warm = {n: [ours[n]["warm"]] for n in CLOSED}
    nt_warm = {n: [nt[n]["warm"]] for n in CLOSED} if nt is not None else None
    for _ in range(args.rounds - 1):
        for n, w in warm_ours(args, x, CLOSED).items():
            warm[n].append(w)
        if nt is not None:
            for n, r in measure_nt(args, x, CLOSED).items():
                nt_warm[n].append(r["warm"])
    for n in CLOSED:
        ours[n]["warm"] = statistics.median(warm[n])
        if nt is not None:
            nt[n]["warm"] = statistics.median(nt_warm[n])
    arch = measure_architectures(args)
    from actlab.play._kernel import cpu_name

    rows = []
    for name in ACTIVATIONS:
        o = ours[name]
        row = {"activation": name, "actlab_import_s": o["import"], "actlab_first_s": o["first"], "actlab_warm_s": o["warm"],
               "actlab_error": _err(o["subset"], o["ref"])}
        if nt is not None:
            row.update(nt_first_s=nt[name]["first"], nt_warm_s=nt[name]["warm"], nt_error=_err(nt[name]["subset"], o["ref"]),
                       nt_error_deg100=_err(nt[name]["fine"], o["ref"]), warm_speedup=nt[name]["warm"] / o["warm"])
        rows.append(row)
    if args.json:
        print(json.dumps({"cpu": cpu_name(), "n": args.n, "dim": args.dim, "depth": args.depth, "rows": rows,
                          "architectures": arch}, indent=2))
        return
    print(f"NTK, depth {args.depth}, {args.n} × {args.n} inputs of dimension {args.dim}, float64, σ_w² = {args.sigma_w2}, "
          f"σ_b² = {args.sigma_b2}; {cpu_name()}; warm = median of {args.repeats} (closed forms: median of {args.rounds} "
          f"rounds' medians, the libraries in turn); error on {args.subset} × {args.subset}")
    head = f"{'activation':<11} {'actlab first':>12} {'warm':>8} {'error':>8}"
    if nt is not None:
        head += f"   {'NT first':>9} {'warm':>8} {'error':>8} {'deg 100':>8}   {'warm ratio':>10}"
    print(head)
    for r in rows:
        line = f"{r['activation']:<11} {r['actlab_first_s']:>11.3f}s {r['actlab_warm_s']:>7.3f}s {r['actlab_error']:>8.1e}"
        if nt is not None:
            line += (f"   {r['nt_first_s']:>8.3f}s {r['nt_warm_s']:>7.3f}s {r['nt_error']:>8.1e} {r['nt_error_deg100']:>8.1e}   "
                     f"{r['warm_speedup']:>9.1f}×")
        print(line)
    print(f"import actlab (torch with it), fresh process: median {statistics.median(r['actlab_import_s'] for r in rows):.2f} s")
    _print_architectures(args, arch)
    if nt is None:
        print("(neural-tangents not given: --nt-python PATH; see this script's docstring for the venv)")


if __name__ == "__main__":
    main()
