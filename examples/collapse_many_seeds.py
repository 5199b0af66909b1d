"""50 seeds of each random architecture, identity vs relu vs tanh: verdicts and errors.

    python examples/collapse_many_seeds.py [--n-seeds 50]

For identity activations every net must be certified affine with the collapse's max
relative error ≤ 1e-10 on fresh inputs; with relu or tanh every net must be flagged.
Prints one line per (arch, activation) and exits 1 if any seed misbehaves.
"""

import argparse
import sys
import time

from actlab.experiments.collapse import run_collapse


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n-seeds", type=int, default=50)
    args = p.parse_args()
    bad = []
    for arch in ("dense", "conv", "rnn"):
        for act in ("linear", "relu", "tanh"):
            t0 = time.perf_counter()
            rows = [run_collapse(arch, s, act, ols=False) for s in range(args.n_seeds)]
            n_aff = sum(r.affine for r in rows)
            worst = max(r.collapse_max_rel_error for r in rows)
            least = min(r.residual for r in rows)
            ok = (n_aff == len(rows) and worst <= 1e-10) if act == "linear" else n_aff == 0
            bad += [(arch, act, r.seed) for r in rows if r.affine != (act == "linear")]
            print(
                f"{arch:5} {act:6} affine {n_aff:3}/{len(rows)}  worst collapse error {worst:.1e}  "
                f"smallest residual {least:.1e}  {'OK' if ok else 'FAIL'}  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    if bad:
        print("misbehaving (arch, activation, seed):", bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
