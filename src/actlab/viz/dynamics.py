"""Figures of ``actlab dynamics`` (``actlab.experiments.dynamics.DynamicsResult.to_dict()``):
the modes of a deep linear net against Saxe et al.'s curve, the depth sweep, XOR success
against the initial weight range, and the 2-4-1 ReLU failures. Drawn from stored results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import _mpl, save_figure

_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def plot_saxe_modes(result: dict, path) -> Path:
    """Each mode's strength uᵀWv: measured (dots, from the collapsed net) and the analytic curve,
    for one hidden layer (left) and no hidden layer (right)."""
    plt = _mpl()
    saxe = result["saxe"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    t = np.asarray(saxe["modes"][0]["t"])
    every = max(1, len(t) // 60)
    for ax, modes, title in ((axes[0], saxe["modes"], "one hidden layer: a(t) = s·exp(2st/τ) / (exp(2st/τ) − 1 + s/a₀)"),
                             (axes[1], saxe["shallow"]["modes"], "no hidden layer: a(t) = s + (a₀ − s)·exp(−t/τ)")):
        for i, m in enumerate(modes):
            c = _COLORS[i % len(_COLORS)]
            ax.plot(t, m["analytic"], color=c, linewidth=1.5, label=f"s = {m['s']:g} (R² {m['r2']:.4f})")
            ax.plot(t[::every], np.asarray(m["measured"])[::every], "o", color=c, markersize=3)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("mode strength uᵀ W v")
    fig.suptitle(f"Linear map, nonlinear learning (Saxe et al. 2014): lines analytic, dots measured; every checkpoint "
                 f"collapsed and certified (max residual {saxe['collapse_residual_max']:.1e})", fontsize=9)
    return save_figure(fig, path)


def plot_depth_sweep(result: dict, path) -> Path:
    """Steps to learn 99 % of ‖M‖² against depth, median and quartiles, per initialisation."""
    plt = _mpl()
    rows = result["saxe"]["depth"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    cap = max(r["max_steps"] for r in rows)
    for i, scheme in enumerate(dict.fromkeys(r["init"] for r in rows)):
        sel = [r for r in rows if r["init"] == scheme]
        d = np.array([r["depth"] for r in sel])
        med = np.array([np.nan if r["steps_median"] is None else r["steps_median"] for r in sel], dtype=float)
        lo = np.array([np.nan if r["steps_q25"] is None else r["steps_q25"] for r in sel], dtype=float)
        hi = np.array([np.nan if r["steps_q75"] is None else r["steps_q75"] for r in sel], dtype=float)
        c = _COLORS[i]
        ax.errorbar(d, med, yerr=[med - lo, hi - med], color=c, marker="o", capsize=3, label=scheme)
        never = [r["depth"] for r in sel if r["not_reached"] == r["n_seeds"]]
        if never:
            ax.plot(never, [cap] * len(never), marker="^", color=c, linestyle="none")
    ax.axhline(cap, color="k", linestyle=":", linewidth=1)
    ax.text(min(r["depth"] for r in rows), cap, f" ▲ not learned in {cap:,} steps", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(sorted({r["depth"] for r in rows}))
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("steps to learn 99 % (median, quartiles)")
    ax.set_title("Deep linear nets: learning time against depth, learning rate / number of layers", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_init_range(result: dict, path) -> Path:
    """XOR success (with 95 % Wilson bands) and median steps to solve against the initial
    weight range r, per architecture; one column per activation."""
    plt = _mpl()
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    rows = result["xor_init_scale"]
    acts = list(dict.fromkeys(r["activation"] for r in rows))
    fig, axes = plt.subplots(2, len(acts), figsize=(4.8 * len(acts), 6.2), sharex=True, squeeze=False)
    for j, act in enumerate(acts):
        for i, arch in enumerate(dict.fromkeys(r["arch"] for r in rows)):
            sel = [r for r in rows if r["activation"] == act and r["arch"] == arch]
            x = np.array([r["range"] for r in sel])
            rate = np.array([r["success_rate"] for r in sel]) * 100
            lo = np.array([r["success_ci"][0] for r in sel]) * 100
            hi = np.array([r["success_ci"][1] for r in sel]) * 100
            steps = np.array([np.nan if r["steps_median"] is None else r["steps_median"] for r in sel], dtype=float)
            c = _COLORS[i]
            axes[0, j].plot(x, rate, marker="o", color=c, label=arch)
            axes[0, j].fill_between(x, lo, hi, color=c, alpha=0.2, linewidth=0)
            axes[1, j].plot(x, steps, marker="o", color=c, label=arch)
        axes[0, j].set_title(f"{act}: {sel[0]['n_seeds']:,} seeds per point", fontsize=9)
        axes[0, j].set_ylim(0, 105)
        axes[1, j].set_xscale("log")
        axes[1, j].set_yscale("log")
        ranges = sorted({r["range"] for r in rows})
        axes[1, j].set_xticks(ranges, [f"{r:g}" for r in ranges])
        axes[1, j].xaxis.set_minor_formatter(NullFormatter())
        axes[1, j].yaxis.set_minor_formatter(NullFormatter())
        axes[1, j].yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        axes[1, j].yaxis.set_major_formatter(FormatStrFormatter("%g"))
        axes[1, j].set_xlabel("initial weights and biases U(−r, r): r")
    axes[0, 0].set_ylabel("solved (%)")
    axes[1, 0].set_ylabel("steps to solve (median)")
    axes[0, 0].legend(fontsize=8)
    cfg = result["config"]["xor"]
    fig.suptitle(f"XOR trainability (Kolen & Pollack 1990): {cfg['optimizer']} lr {cfg['lr']}, ≤ {cfg['n_steps']:,} steps, "
                 "linear output, solved = MSE < 0.04", fontsize=9)
    return save_figure(fig, path)


def plot_relu_failures(result: dict, path) -> Path:
    """The 2-4-1 ReLU seeds by final MSE, with the mean number of dead hidden units at
    initialisation and at the end."""
    plt = _mpl()
    rel = result["relu_failures"]
    rows = rel["classes"]
    names = [r["class"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = np.arange(len(rows))
    ax.bar(x, [r["count"] for r in rows], color=[_COLORS[i % len(_COLORS)] for i in range(len(rows))])
    for i, r in enumerate(rows):
        ax.text(i, r["count"], f"{100 * r['share']:.1f}%\ndead {r['dead_init_mean']:.1f} → {r['dead_final_mean']:.1f}",
                ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [n if n == "solved" else f"MSE {n}" for n in names])
    ax.set_ylabel("seeds")
    ax.set_ylim(0, 1.25 * max(r["count"] for r in rows))
    ax.set_title(f"The article's 2-4-1 ReLU set-up over {rel['n_seeds']:,} seeds: how it fails "
                 "(dead hidden units: at init → at the end)", fontsize=9)
    return save_figure(fig, path)


def write_dynamics_figures(result: dict, folder) -> list[Path]:
    """Every figure of ``actlab dynamics`` into ``folder`` (each written atomically)."""
    folder = Path(folder)
    return [plot_saxe_modes(result, folder / "saxe_modes.png"), plot_depth_sweep(result, folder / "saxe_depth.png"),
            plot_init_range(result, folder / "xor_init_range.png"), plot_relu_failures(result, folder / "relu_failures.png")]


def write_dynamics_outputs(result: dict, folder) -> list[Path]:
    """results.json and every figure into ``folder``."""
    from ._io import save_json

    return [save_json(result, Path(folder) / "results.json"), *write_dynamics_figures(result, folder)]
