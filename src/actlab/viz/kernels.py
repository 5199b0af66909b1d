"""Figures of ``actlab kernels`` (``actlab.experiments.kernels.KernelsResult.to_dict()``): each
activation's NNGP as a heatmap, the empirical kernels' convergence to it, kernel regression
beside trained nets, and the approximation of |x| against the best quadratic. Drawn from stored
results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import _mpl, save_figure

_COLORS = {"linear": "#7f7f7f", "relu": "#4c72b0", "tanh": "#dd8452", "square": "#c44e52", "sigmoid": "#55a868"}
_MORE = ["#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]


def _color(name: str, i: int) -> str:
    return _COLORS.get(name, _MORE[i % len(_MORE)])


def plot_kernel_heatmaps(result: dict, path) -> Path:
    """Each activation's NNGP on points taken in order along the spiral."""
    plt = _mpl()
    ex = result["example"]
    names = list(ex["kernels"])
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8))
    for ax, name in zip(np.atleast_1d(axes), names):
        k = np.asarray(ex["kernels"][name])
        rank = next((r["rank"] for r in result["ranks"] if r["activation"] == name and r["depth"] == ex["depth"]), None)
        ax.imshow(k, cmap="viridis")
        ax.set_title(f"{name}: rank {rank}" if rank is not None else name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"NNGP kernels at depth {ex['depth']} on {len(ex['x'])} points along the spiral (rank on "
                 f"{result['ranks'][0]['n']} points; d = {result['ranks'][0]['d']})", fontsize=9)
    return save_figure(fig, path)


def plot_convergence(result: dict, path) -> Path:
    """Relative Frobenius error of real nets' empirical NNGP against width, with a 1/√n guide."""
    plt = _mpl()
    rows = result["convergence"]
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for i, name in enumerate(dict.fromkeys(r["activation"] for r in rows)):
        sel = [r for r in rows if r["activation"] == name]
        w = np.array([r["width"] for r in sel])
        e = np.array([r["rel_error"] for r in sel])
        ax.errorbar(w, e, yerr=[r["rel_error_sd"] for r in sel], marker="o", capsize=3, color=_color(name, i), label=name)
    w = np.array(sorted({r["width"] for r in rows}), dtype=float)
    first = np.mean([r["rel_error"] for r in rows if r["width"] == w[0]])
    ax.plot(w, first * np.sqrt(w[0] / w), "k--", linewidth=1, label="∝ 1/√width")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden width n")
    ax.set_ylabel("‖K_net − K_∞‖_F / ‖K_∞‖_F")
    ax.set_title(f"Real nets → the NNGP (depth {result['config']['depth']}; mean ± sd over "
                 f"{rows[0]['seeds']} seeds)", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _paired_bars(ax, names: list[str], sel: dict, infinite: str, infinite_label: str, trained_label: str) -> None:
    """Per activation, the infinite network's accuracy beside the trained nets' median with its quartiles."""
    x = np.arange(len(names))
    med = np.array([sel[n]["accuracy_trained"] for n in names])
    lo = med - np.array([sel[n]["trained_q25"] for n in names])
    hi = np.array([sel[n]["trained_q75"] for n in names]) - med
    ax.bar(x - 0.2, [sel[n][infinite] for n in names], 0.4, color="#4c72b0", label=infinite_label)
    ax.bar(x + 0.2, med, 0.4, yerr=[lo, hi], capsize=3, color="#dd8452", label=trained_label)
    ax.set_xticks(x, names, fontsize=8)


def plot_regression(result: dict, path) -> Path:
    """Test accuracy: NNGP kernel regression beside trained wide nets (median, quartiles)."""
    plt = _mpl()
    rows = result["regression"]
    tasks = list(dict.fromkeys(r["dataset"] for r in rows))
    names = list(dict.fromkeys(r["activation"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.2), sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sel = {r["activation"]: r for r in rows if r["dataset"] == task}
        _paired_bars(ax, names, sel, "accuracy_kernel", "NNGP regression (∞ width)", "trained nets (median)")
        ax.axhline(0.5, color="k", linestyle=":", linewidth=1)
        ax.set_ylim(0.4, 1.02)
        ax.set_title(task, fontsize=9)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=2)
    r0 = rows[0]
    fig.suptitle(f"Kernel regression vs {r0['seeds']} trained nets of width {r0['width']} ({r0['steps']} Adam steps)",
                 fontsize=9)
    return save_figure(fig, path)


def plot_approximation(result: dict, path) -> Path:
    """RMS error fitting |x| with one hidden layer of growing width; the best quadratic's floor."""
    plt = _mpl()
    a = result["approximation"]
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for i, name in enumerate(dict.fromkeys(r["activation"] for r in a)):
        sel = [r for r in a if r["activation"] == name]
        ax.plot([r["width"] for r in sel], [r["error"] for r in sel], marker="o", color=_color(name, i), label=name)
    ax.axhline(result["polynomial_floor"], color="#c44e52", linestyle="--", linewidth=1, label="best quadratic")
    ax.axhline(result["linear_floor"], color="#7f7f7f", linestyle=":", linewidth=1, label="best line")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden width (random weights, least-squares readout)")
    ax.set_ylabel(f"RMS error, {result['approximation_target']}")
    ax.set_title("Width helps only a non-polynomial activation (Leshno et al. 1993)", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_architectures(result: dict, path) -> Path:
    """The article's three architectures side by side: the infinite network's test accuracy beside
    trained finite nets (median, quartiles) per activation; OLS and chance as lines."""
    plt = _mpl()
    rows = result["architectures"]
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    names = list(dict.fromkeys(r["activation"] for r in rows))
    fig, axes = plt.subplots(1, len(archs), figsize=(3.6 * len(archs), 3.2), sharey=True, squeeze=False)
    for ax, arch in zip(axes[0], archs):
        sel = {r["activation"]: r for r in rows if r["arch"] == arch}
        _paired_bars(ax, names, sel, "accuracy_infinite", "infinite width (NTK, trained)", "finite nets, trained (median)")
        first = sel[names[0]]
        ax.axhline(first["accuracy_least_squares"], color="#c44e52", linestyle="--", linewidth=1, label="least squares on (x, 1)")
        ax.axhline(first["accuracy_chance"], color="k", linestyle=":", linewidth=1, label="majority class")
        ax.set_ylim(0.3, 1.05)
        ax.set_title(f"{arch} — {first['task']}", fontsize=9)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=2)
    r0 = rows[0]
    fig.suptitle(f"The article's architectures at infinite width, beside {r0['seeds']} trained nets of width {r0['width']} "
                 f"({r0['steps']} Adam steps, {r0['points']} training examples)", fontsize=9)
    return save_figure(fig, path)


def write_kernels_figures(result: dict, folder) -> list[Path]:
    """Every figure of ``actlab kernels`` into ``folder`` (each written atomically)."""
    folder = Path(folder)
    return [plot_kernel_heatmaps(result, folder / "kernels_heatmaps.png"),
            plot_convergence(result, folder / "kernels_convergence.png"),
            plot_regression(result, folder / "kernels_regression.png"),
            plot_approximation(result, folder / "kernels_approximation.png"),
            plot_architectures(result, folder / "kernels_architectures.png")]


def write_kernels_outputs(result: dict, folder) -> list[Path]:
    """results.json and every figure into ``folder``."""
    from ._io import save_json

    return [save_json(result, Path(folder) / "results.json"), *write_kernels_figures(result, folder)]
