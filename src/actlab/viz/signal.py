"""Figures of ``actlab signal`` (``actlab.experiments.signal.SignalResult.to_dict()``): the phase
diagram with the 6 ξ_c line, gradients through depth against χ₁^(L−l), the Jacobian's spectral
spread against Pennington et al.'s law, and regions at initialisation under both conditions.
Drawn from stored results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import _mpl, save_figure

_COLORS = {"linear": "#7f7f7f", "relu": "#4c72b0", "tanh": "#dd8452", "hardtanh": "#55a868", "sigmoid": "#c44e52"}


def plot_phase_diagram(result: dict, path) -> Path:
    """Fraction of seeds trained per (σ_w², depth) as a heatmap, with ξ_c and 6 ξ_c over it."""
    plt = _mpl()
    pd = result["phase_diagram"]
    w2, depths = np.array(pd["sigma_w2"], dtype=float), np.array(pd["depths"], dtype=float)
    frac = np.array(pd["trained"], dtype=float).T  # (depth, σ_w²)
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    xs, ys = np.arange(len(w2)), np.arange(len(depths))
    im = ax.imshow(frac, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in ys:
        for j in xs:
            ax.text(j, i, f"{frac[i, j]:.2f}".rstrip("0").rstrip("."), ha="center", va="center", fontsize=7,
                    color="white" if frac[i, j] < 0.6 else "black")
    xi = np.array([np.inf if x is None else x for x in pd["xi_c"]], dtype=float)
    logd = np.log2(depths)
    for mult, style in ((1, ":"), (6, "--")):  # depth = mult·ξ_c, in the heatmap's row coordinates
        y = np.interp(np.log2(np.clip(mult * xi, depths[0] / 2, depths[-1] * 2)), logd, ys, left=-0.5, right=len(ys) - 0.5)
        ax.plot(xs, np.where(np.isfinite(xi), y, len(ys) - 0.5), "w" + style, linewidth=1.5, label=f"depth = {mult} ξ_c")
    ax.set_xticks(xs, [f"{v:g}" for v in w2])
    ax.set_yticks(ys, [str(int(d)) for d in depths])
    ax.set_xlabel(f"σ_w²  (critical {pd['critical_sigma_w2']:.3f})")
    ax.set_ylabel("hidden layers")
    ax.set_title(f"{pd['activation']}, σ_b² = {pd['sigma_b2']:g}, width {pd['width']}: fraction of {pd['seeds']} seeds trained\n"
                 f"({pd['trained_means']})", fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.legend(fontsize=7, loc="upper right", facecolor="#444444", labelcolor="white")
    return save_figure(fig, path)


def plot_gradients(result: dict, path) -> Path:
    """Measured E|∂ℓ/∂h_l|² relative to the last layer (markers) against χ₁^(L−l) (lines)."""
    plt = _mpl()
    rows = result["gradients"]
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    keys = list(dict.fromkeys((r["activation"], r["init"]) for r in rows))
    for act, init in keys:
        sel = [r for r in rows if (r["activation"], r["init"]) == (act, init)]
        l = [r["layer"] for r in sel]
        c = _COLORS.get(act, "k")
        style = "-" if init != "chaotic" else "--"
        ax.plot(l, [r["predicted"] for r in sel], style, color=c, linewidth=1)
        ax.plot(l, [r["measured"] for r in sel], "o", color=c, markersize=4,
                label=f"{act} {init} (σ_w² {sel[0]['sigma_w2']:g}, χ₁ {sel[0]['chi1']:.3g})")
    ax.set_yscale("log")
    ax.set_xlabel("layer l")
    ax.set_ylabel("E|∂ℓ/∂h_l|² / E|∂ℓ/∂h_L|²")
    ax.set_title(f"Gradients at initialisation: measured (dots, width {rows[0]['width']}, {rows[0]['seeds']} seeds) "
                 "against χ₁^(L−l) (lines)", fontsize=8)
    ax.legend(fontsize=6)
    return save_figure(fig, path)


def plot_isometry(result: dict, path) -> Path:
    """Variance of J Jᵀ's eigenvalues against depth, measured (markers) and predicted (lines)."""
    plt = _mpl()
    rows = result["isometry"]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6), sharey=True)
    for ax, dist in zip(axes, ("gaussian", "orthogonal")):
        for act, b2 in dict.fromkeys((r["activation"], r["sigma_b2"]) for r in rows):
            sel = [r for r in rows if (r["activation"], r["sigma_b2"], r["init"]) == (act, b2, dist)]
            d = [r["depth"] for r in sel]
            c = _COLORS.get(act, "k")
            style = "-" if b2 >= max(r["sigma_b2"] for r in rows) or act in ("linear", "relu") else ":"
            ax.plot(d, [r["predicted_variance"] for r in sel], style, color=c, linewidth=1)
            q = sel[0]["q_star"]
            label = act if q is None or act == "linear" else f"{act} (q* {q:.2g})"
            ax.plot(d, [r["variance"] for r in sel], "o", color=c, markersize=4, label=label)
        ax.set_xlabel("depth L")
        ax.set_title(f"{dist} weights", fontsize=9)
        ax.set_xticks(sorted({r["depth"] for r in rows}))
    axes[0].set_ylabel("variance of J Jᵀ's eigenvalues")
    axes[1].legend(fontsize=7)
    fig.suptitle("At the edge of chaos: measured (dots, width = "
                 f"{rows[0]['width'] // rows[0]['depth']} × depth) against Pennington et al.'s law (lines)", fontsize=9)
    return save_figure(fig, path)


def plot_regions_at_init(result: dict, path) -> Path:
    """Median regions (with quartiles) against depth per total neurons, He beside torch's default."""
    plt = _mpl()
    rows = result["regions_at_init"]
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.4), sharey=True)
    titles = {"he": "He-normal weights, bias sd 1e-3", "torch_default": "torch's default (U(±1/√fan_in))"}
    for ax, init in zip(axes, ("he", "torch_default")):
        for N in sorted({r["neurons"] for r in rows}):
            sel = [r for r in rows if r["init"] == init and r["neurons"] == N]
            d = np.array([r["depth"] for r in sel])
            med = np.array([r["median"] for r in sel])
            err = [med - np.array([r["q1"] for r in sel]), np.array([r["q3"] for r in sel]) - med]
            ax.errorbar(d, med, yerr=err, marker="o", capsize=3, label=f"N = {N}")
        ax.set_yscale("log")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["depth"] for r in rows}), [str(d) for d in sorted({r["depth"] for r in rows})])
        ax.set_xlabel("hidden layers (N split evenly)")
        ax.set_title(titles[init], fontsize=9)
    axes[0].set_ylabel("linear regions (median, quartiles)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Regions at initialisation in the plane through three random inputs", fontsize=9)
    return save_figure(fig, path)


def write_signal_figures(result: dict, folder) -> list[Path]:
    """Every figure of ``actlab signal`` into ``folder`` (each written atomically)."""
    folder = Path(folder)
    return [plot_phase_diagram(result, folder / "signal_phase_diagram.png"),
            plot_gradients(result, folder / "signal_gradients.png"),
            plot_isometry(result, folder / "signal_isometry.png"),
            plot_regions_at_init(result, folder / "signal_regions.png")]


def write_signal_outputs(result: dict, folder) -> list[Path]:
    """results.json and every figure into ``folder``."""
    from ._io import save_json

    return [save_json(result, Path(folder) / "results.json"), *write_signal_figures(result, folder)]


__all__ = ["plot_phase_diagram", "plot_gradients", "plot_isometry", "plot_regions_at_init", "write_signal_figures",
           "write_signal_outputs"]
