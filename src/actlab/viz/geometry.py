"""Figures of what the activation does (``actlab.experiments.geometry.run_geometry``'s dict):
XOR nets' linear regions, depth against width, regions against neurons (Hanin & Rolnick), and
the hidden space. Drawn from stored results: nothing here trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import _mpl, save_figure

_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
_XOR_Y = np.array([0, 1, 1, 0])


def _regions_panel(ax, example: dict, title: str) -> None:
    from matplotlib.collections import PolyCollection

    polys = [np.asarray(p) for p in example["polygons"]]
    colors = _mpl().get_cmap("tab20")(np.arange(len(polys)) % 20)
    ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="white", linewidths=0.6, alpha=0.8))
    for line in example["boundary"]:
        line = np.asarray(line)
        ax.plot(line[:, 0], line[:, 1], color="k", linewidth=2)
    ax.scatter(_XOR[:, 0], _XOR[:, 1], c=["#c44e52" if v else "#4c72b0" for v in _XOR_Y], s=60, edgecolors="k", zorder=3)
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(-0.5, 1.5)
    ax.set_aspect("equal")
    ax.set_title(f"{title}: {len(polys)} regions", fontsize=9)


def plot_xor_regions(result: dict, path) -> Path:
    """The linear regions of a solved and a failed 2-4-1 net per activation, with the boundary."""
    plt = _mpl()
    rows = [r for r in result["xor"] if r["examples"]]
    fig, axes = plt.subplots(2, len(rows), figsize=(3.2 * len(rows), 6.6), squeeze=False)
    for j, row in enumerate(rows):
        for i, kind in enumerate(("solved", "failed")):
            ax = axes[i, j]
            if kind in row["examples"]:
                _regions_panel(ax, row["examples"][kind], f"{row['activation']}, {kind} (seed {row['examples'][kind]['seed']})")
            else:
                ax.set_axis_off()
                ax.set_title(f"{row['activation']}: no {kind} seed", fontsize=9)
    fig.suptitle("XOR, the article's 2-4-1 set-up: each colour one affine piece, black the decision boundary (output ½)", fontsize=9)
    return save_figure(fig, path)


def plot_depth_and_neurons(result: dict, path) -> Path:
    """Left: the sawtooth's 2^L pieces against one layer's 2L + 1. Middle: regions at
    initialisation against neurons, per depth (median, quartiles). Right: during training."""
    plt = _mpl()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    dw = result["depth_vs_width"]
    L = [r["L"] for r in dw]
    axes[0].plot(L, [r["deep_pieces"] for r in dw], "o-", color=_COLORS[0], label="L layers of 2 ReLUs (sawtooth)")
    axes[0].plot(L, [r["shallow_pieces"] for r in dw], "s-", color=_COLORS[1], label="1 layer of 2L ReLUs")
    axes[0].set_yscale("log", base=2)
    axes[0].set_xlabel("L")
    axes[0].set_ylabel("linear pieces of [0, 1]")
    axes[0].set_title("Depth multiplies pieces (Telgarsky 2016)", fontsize=9)
    axes[0].legend(fontsize=8)
    hr = result["hanin_rolnick"]
    for i, d in enumerate(sorted({r["depth"] for r in hr})):
        sel = [r for r in hr if r["depth"] == d]
        n = np.array([r["neurons"] for r in sel])
        med = np.array([r["regions_median"] for r in sel])
        lo, hi = np.array([r["regions_q25"] for r in sel]), np.array([r["regions_q75"] for r in sel])
        axes[1].errorbar(n, med, yerr=[med - lo, hi - med], marker="o", capsize=3, color=_COLORS[i], label=f"{d} hidden layer{'s' * (d > 1)}")
    n = np.array(sorted({r["neurons"] for r in hr}), dtype=float)
    first = [r for r in hr if r["depth"] == 1]
    if first:
        axes[1].plot(n, first[0]["regions_median"] * (n / n[0]) ** 2, "k:", label="∝ N²")
    axes[1].set_xscale("log", base=2)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("hidden ReLUs N (all layers)")
    axes[1].set_ylabel("regions in the box at init")
    axes[1].set_title(f"Regions against neurons (Hanin & Rolnick 2019), {hr[0]['regions_n']} seeds each", fontsize=9)
    axes[1].legend(fontsize=8)
    tr = result["training"]
    axes[2].plot(tr["steps"], tr["median"], color=_COLORS[2])
    axes[2].fill_between(tr["steps"], tr["q25"], tr["q75"], color=_COLORS[2], alpha=0.25, linewidth=0)
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("regions in the data's box")
    axes[2].set_title(f"During training: 2-{'-'.join(map(str, tr['layers']))}-1 ReLU on {tr['dataset']}", fontsize=9)
    return save_figure(fig, path)


def plot_hidden_space(result: dict, path) -> Path:
    """Per activation: the input grid and XOR's points in the last hidden layer, and the
    decision line there (the output is affine in it)."""
    plt = _mpl()
    hid = result["hidden"]
    fig, axes = plt.subplots(1, len(hid), figsize=(4.2 * len(hid), 4.0), squeeze=False)
    for ax, h in zip(axes[0], hid):
        for line in h["grid"]:
            line = np.asarray(line)
            ax.plot(line[:, 0], line[:, 1], color="#bbbbbb", linewidth=0.6)
        pts = np.asarray(h["data"])
        ax.scatter(pts[:, 0], pts[:, 1], c=["#c44e52" if v > 0.5 else "#4c72b0" for v in h["labels"]], s=70, edgecolors="k", zorder=3)
        n, c = np.asarray(h["boundary_normal"]), h["boundary_offset"]
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        if abs(n[1]) > 1e-12:
            xs = np.linspace(x0, x1, 2)
            ax.plot(xs, (c - n[0] * xs) / n[1], color="k", linewidth=2)
        elif abs(n[0]) > 1e-12:
            ax.axvline(c / n[0], color="k", linewidth=2)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        state = "solved" if h["solved"] else "not solved"
        ax.set_title(f"{h['activation']} ({state}, seed {h['seed']}): {h['projection']}", fontsize=9)
        ax.set_xlabel("h₁")
        ax.set_ylabel("h₂")
    fig.suptitle("The hidden space of a 2-2-1 net on XOR: the input grid (grey), the points, and the output's decision line", fontsize=9)
    return save_figure(fig, path)


def plot_region_map(rm, ax=None, *, level: float | None = 0.0, output: int = 0, cmap: str = "tab20"):
    """An ``actlab.RegionMap``: its regions as coloured polygons with their edges, and the
    level set {output = level} (None: none). Returns the axes."""
    from matplotlib.collections import PolyCollection

    if ax is None:
        ax = _mpl().subplots(figsize=(5, 5))[1]
    colors = _mpl().get_cmap(cmap)(np.arange(rm.count) % 20)
    ax.add_collection(PolyCollection(rm.polygons, facecolors=colors, edgecolors="white", linewidths=0.4))
    if level is not None and rm.weight.shape[1] > output:
        for line in rm.boundary(level, output):
            ax.plot(line[:, 0], line[:, 1], color="k", linewidth=1.5)
    ax.set_xlim(rm.bounds[0], rm.bounds[1])
    ax.set_ylim(rm.bounds[2], rm.bounds[3])
    ax.set_aspect("equal")
    ax.set_title(f"{rm.count:,} linear regions", fontsize=9)
    return ax


def write_geometry_figures(result: dict, folder) -> list[Path]:
    folder = Path(folder)
    return [plot_xor_regions(result, folder / "xor_regions.png"), plot_depth_and_neurons(result, folder / "regions_depth.png"),
            plot_hidden_space(result, folder / "hidden_space.png")]


def plot_net_regions(net: dict, path) -> Path:
    """One measured net (``measure_net``): its first seed's regions with the data and the
    boundary, and its hidden space."""
    from matplotlib.collections import PolyCollection

    plt = _mpl()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    polys = [np.asarray(p) for p in net["first"]["polygons"]]
    axes[0].add_collection(PolyCollection(polys, facecolors=_mpl().get_cmap("tab20")(np.arange(len(polys)) % 20),
                                          edgecolors="white", linewidths=0.3, alpha=0.8))
    for line in net["first"]["boundary"]:
        line = np.asarray(line)
        axes[0].plot(line[:, 0], line[:, 1], color="k", linewidth=1.5)
    X, y = np.asarray(net["data"]["X"]), np.asarray(net["data"]["y"])
    axes[0].scatter(X[:, 0], X[:, 1], c=np.where(y > 0.5, "#c44e52", "#4c72b0"), s=12, edgecolors="k", linewidths=0.3)
    b = net["bounds"]
    axes[0].set_xlim(b[0], b[1])
    axes[0].set_ylim(b[2], b[3])
    axes[0].set_aspect("equal")
    axes[0].set_title(f"seed {net['first']['seed']}: {net['first']['count']:,} linear regions", fontsize=9)
    h = net["hidden"]
    for line in h["grid"]:
        line = np.asarray(line)
        axes[1].plot(line[:, 0], line[:, 1], color="#bbbbbb", linewidth=0.5)
    pts = np.asarray(h["data"])
    axes[1].scatter(pts[:, 0], pts[:, 1], c=np.where(np.asarray(h["labels"]) > 0.5, "#c44e52", "#4c72b0"), s=12)
    axes[1].set_title(f"the last hidden layer ({h['projection']}, width {h['width']})", fontsize=9)
    fig.suptitle(f"{'-'.join(map(str, net['layers']))} {net['activation']} on {net['dataset']}, {net['steps']} steps", fontsize=9)
    return save_figure(fig, path)
