"""actlab.regions on a few sizes, beside the usual approximation: counting activation patterns
on a grid.

    python benchmarks/bench_regions.py [--repeats 5] [--grid 512] [--json]

For each network (random weights, torch's default initialisation, seed 0): the exact count and
the median time of ``actlab.regions`` over --repeats calls (the first call of the process
timed apart), and a grid of --grid² points through the model with the patterns counted —
its time and how many regions it misses. Sizes: the playground's largest default-looking net
(2-8-8-8-1), the issue's 2-(32×4)-1 in [−6, 6]², a 2-(64×2)-1, and a small conv net sliced by
a random plane through its 1×16×16 input.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

import actlab


def _mlp(widths, seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double()


def _conv():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).double().eval()
    g = torch.Generator().manual_seed(1)
    plane = tuple(torch.randn(1, 16, 16, generator=g, dtype=torch.float64) for _ in range(3))
    return model, plane


def _grid_patterns(model: nn.Module, bounds, plane, n: int) -> tuple[int, float]:
    """Distinct ReLU/max patterns at n² grid points (forward hooks on every ReLU and max-pool)."""
    t0 = time.perf_counter()
    a = torch.linspace(bounds[0], bounds[1], n, dtype=torch.float64)
    b = torch.linspace(bounds[2], bounds[3], n, dtype=torch.float64)
    ab = torch.cartesian_prod(a, b)
    o, u, v = plane if plane is not None else (torch.zeros(2, dtype=torch.float64), torch.tensor([1.0, 0.0], dtype=torch.float64),
                                               torch.tensor([0.0, 1.0], dtype=torch.float64))
    codes = []
    def record(mod, inputs, out):
        if isinstance(mod, nn.ReLU):
            codes.append((inputs[0] > 0).flatten(1))
        else:  # which input wins each window
            idx = F.max_pool2d(inputs[0], mod.kernel_size, mod.stride, mod.padding, mod.dilation, return_indices=True)[1]
            codes.append(idx.flatten(1))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, (nn.ReLU, nn.MaxPool2d))]
    seen = set()
    with torch.no_grad():
        for i in range(0, ab.shape[0], 8192):
            p = ab[i : i + 8192]
            x = o[None] + p[:, 0].reshape(-1, *([1] * o.ndim)) * u + p[:, 1].reshape(-1, *([1] * o.ndim)) * v
            codes.clear()
            model(x)
            rows = torch.cat([c.to(torch.float32) for c in codes], dim=1).numpy()
            seen.update(r.tobytes() for r in rows)
    for h in hooks:
        h.remove()
    return len(seen), time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--grid", type=int, default=512)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    conv, plane = _conv()
    cases = [("2-8-8-8-1 (playground)", _mlp([2, 8, 8, 8, 1]), (-6, 6, -6, 6), None),
             ("2-(32×4)-1", _mlp([2, 32, 32, 32, 32, 1]), (-6, 6, -6, 6), None),
             ("2-(64×2)-1", _mlp([2, 64, 64, 1]), (-6, 6, -6, 6), None),
             ("conv 1×16×16, plane", conv, (-0.1, 0.1, -0.1, 0.1), plane)]
    rows = []
    for name, model, bounds, pl in cases:
        t0 = time.perf_counter()
        r = actlab.regions(model, bounds, plane=pl)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            actlab.regions(model, bounds, plane=pl)
            times.append(time.perf_counter() - t0)
        grid_count, grid_s = _grid_patterns(model, bounds, pl, args.grid)
        rows.append({"net": name, "regions": r.count, "first_s": first, "median_s": statistics.median(times),
                     "grid": args.grid, "grid_count": grid_count, "grid_s": grid_s, "grid_missed": r.count - grid_count})
    out = {"rows": rows, "threads": torch.get_num_threads(), "repeats": args.repeats}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for r in rows:
        print(f"{r['net']:24} {r['regions']:7,} regions  exact: {1e3 * r['median_s']:8.1f} ms median (first {1e3 * r['first_s']:.1f} ms)"
              f"  |  {r['grid']}² grid: {r['grid_count']:7,} patterns in {1e3 * r['grid_s']:7.1f} ms, misses {r['grid_missed']:,} "
              f"({r['grid_s'] / r['median_s']:.2f}× the exact time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
