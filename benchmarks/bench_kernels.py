"""actlab.ntk against neural-tangents (JAX), the reference: time and error, side by side.

    python benchmarks/bench_kernels.py --nt-python /tmp/ntvenv/bin/python
    python benchmarks/bench_kernels.py             # actlab alone, if neural-tangents is not installed

The task is the issue's: the NTK at depth 5 of 500 × 500 inputs of dimension 5 (standard
normal), float64, σ_w² = 1, σ_b² = 0.05, on 2 cores. "first" is the first call in a fresh
process (actlab: the call alone, ``import actlab`` printed beside it; NT: the call with its jit
compilation, ``import jax`` not counted), "warm" the median of
``--repeats`` more calls. The error is the largest |K − K_ref| / max|K_ref| on the first
``--subset`` inputs, K_ref the same kernel by actlab's direct two-dimensional rule for every
pair (TOL = 0: no Hermite series), an independent computation; for relu the closed form.
NT's "deg 100" error is its numerical layer with a four times finer rule (on the subset only):
what more of NT's time would buy.

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

ACTIVATIONS = ("relu", "gelu", "tanh", "softplus", "selu", "hardtanh", "hardsigmoid")  # NT: closed forms for relu, gelu; deg-25 quadrature else
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


def measure_nt(args, x) -> dict | None:
    if not args.nt_python:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, x=x, subset=args.subset, sigma_w2=args.sigma_w2, sigma_b2=args.sigma_b2, depth=args.depth,
                 repeats=args.repeats, activations=np.array(ACTIVATIONS))
        env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2")
        subprocess.run([args.nt_python, str(HERE / "_nt_worker.py"), str(src), str(dst)], check=True, env=env)
        d = np.load(dst)
        return {n: {"first": float(d[f"{n}_first"]), "warm": float(d[f"{n}_warm"]), "subset": d[f"{n}_subset"],
                    "fine": d[f"{n}_fine"]} for n in ACTIVATIONS}


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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    x = np.random.default_rng(0).standard_normal((args.n, args.dim))
    ours, nt = measure_ours(args, x), measure_nt(args, x)
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
        print(json.dumps({"cpu": cpu_name(), "n": args.n, "dim": args.dim, "depth": args.depth, "rows": rows}, indent=2))
        return
    print(f"NTK, depth {args.depth}, {args.n} × {args.n} inputs of dimension {args.dim}, float64, σ_w² = {args.sigma_w2}, "
          f"σ_b² = {args.sigma_b2}; {cpu_name()}; warm = median of {args.repeats}; error on {args.subset} × {args.subset}")
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
    if nt is None:
        print("(neural-tangents not given: --nt-python PATH; see this script's docstring for the venv)")


if __name__ == "__main__":
    main()
