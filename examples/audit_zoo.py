"""Audit every model of `actlab.zoo` and print its verdict beside the expected one.

    python examples/audit_zoo.py            # batch 2, a few seconds a model

The zoo ships inside the package, so this runs wherever actlab is installed.
"""

import torch

import actlab
from actlab import zoo


def main() -> int:
    wrong = 0
    for name, (factory, shape, expect_affine, expect_first) in zoo.ZOO.items():
        torch.manual_seed(0)
        report = actlab.audit(factory(), torch.randn(2, *shape))
        ok = report.is_affine == expect_affine and report.first_nonlinear == expect_first
        wrong += not ok
        print(f"{'OK ' if ok else 'BAD'} {name:<20} affine={report.is_affine!s:<5} first nonlinear={report.first_nonlinear}")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
