"""Figures of ``actlab sweep`` rows: one value over two grid keys as a heatmap (the phase
diagram of the shipped ``phase_diagram`` spec, or any grid). Drawn from stored rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import _mpl, save_figure

__all__ = ["plot_grid"]


def plot_grid(rows: list[dict], x: str, y: str, path, *, value: str = "success_rate", title: str | None = None) -> Path:
    """``value`` of each row at (row[x], row[y]) as a heatmap with the numbers written in;
    rows that differ in other keys must not share an (x, y) cell (ValueError naming it)."""
    xs = sorted({r[x] for r in rows})
    ys = sorted({r[y] for r in rows})
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        i, j = ys.index(r[y]), xs.index(r[x])
        if not np.isnan(grid[i, j]):
            raise ValueError(f"two rows at {x} = {r[x]!r}, {y} = {r[y]!r}: plot a slice of the grid with one value per cell")
        grid[i, j] = np.nan if r[value] is None else r[value]
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(0.75 * len(xs) + 2.2, 0.45 * len(ys) + 1.6))
    im = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto", vmin=0 if value == "success_rate" else None,
                   vmax=1 if value == "success_rate" else None)
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white" if grid[i, j] < 0.6 else "black")
    ax.set_xticks(range(len(xs)), [f"{v:g}" if isinstance(v, float) else str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or f"{value} over {rows[0]['seeds']} seeds per cell", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    return save_figure(fig, path)
