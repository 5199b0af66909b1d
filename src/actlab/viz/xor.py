"""Figures of the XOR / activation-lab results (``actlab.experiments.xor.XorResult``).

success bars with Wilson intervals; loss curves (median and quartile band); decision
boundaries of solved and failed seeds; the article's rotating 3-D scatter GIF
(``nn_xor_<activation>.gif``: 1° per frame, a frame every 5 steps); and the decision
boundary's animation during training. Everything is drawn from stored results: nothing
here trains.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiments.xor import XorResult, params_forward
from ._io import _mpl, save_figure, save_gif

_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]


def _color(i: int) -> str:
    return _COLORS[i % len(_COLORS)]


def plot_success(result: XorResult, path) -> Path:
    """Success rate per activation with its 95 % Wilson interval."""
    plt = _mpl()
    names = list(result.activations)
    rates = np.array([result.activations[n].success_rate for n in names]) * 100
    lo = np.array([result.activations[n].success_ci[0] for n in names]) * 100
    hi = np.array([result.activations[n].success_ci[1] for n in names]) * 100
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(names) + 2), 3.6))
    ax.bar(names, rates, color=[_color(i) for i in range(len(names))], yerr=[rates - lo, hi - rates], capsize=4)
    for i, r in enumerate(rates):
        ax.text(i, min(r + 3, 103), f"{r:.1f}%", ha="center", va="bottom", fontsize=8)
    cfg = result.config
    ax.set_ylim(0, 110)
    ax.set_ylabel("seeds solved (%)")
    ax.set_title(f"{cfg.dataset}: {cfg.n_seeds:,} seeds, 2-{'-'.join(map(str, cfg.hidden))}-1, {cfg.optimizer} lr {cfg.lr}, ≤{cfg.n_steps} steps")
    ax.tick_params(axis="x", rotation=30 if len(names) > 6 else 0)
    return save_figure(fig, path)


def plot_loss_curves(result: XorResult, path) -> Path:
    """Median training loss per activation with the interquartile band, log scale."""
    plt = _mpl()
    many = len(result.activations) > 8
    fig, ax = plt.subplots(figsize=(8.4 if many else 6.4, 4.0))
    for i, (name, st) in enumerate(result.activations.items()):
        c = st.curve
        if not c["steps"]:
            continue
        steps = np.asarray(c["steps"])
        ax.plot(steps, c["median"], color=_color(i), label=name)
        ax.fill_between(steps, c["q25"], c["q75"], color=_color(i), alpha=0.2, linewidth=0)
    ax.axhline(0.25, color="k", linestyle=":", linewidth=1)
    ax.text(0, 0.25, " best affine fit: MSE 0.25", va="bottom", fontsize=8) if result.config.loss == "mse" else None
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss ({result.config.loss})")
    ax.set_title("loss over seeds: median and quartiles")
    if many:  # outside the axes, in two columns, so the curves stay visible
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def _grid(result: XorResult, n: int = 120):
    X = np.asarray(result.X)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.25 * (hi - lo) + 0.1
    gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], n), np.linspace(lo[1] - pad[1], hi[1] + pad[1], n))
    return gx, gy, np.stack([gx.ravel(), gy.ravel()], axis=1)


def _boundary(ax, result: XorResult, activation: str, params, title: str) -> None:
    gx, gy, pts = _grid(result)
    z = params_forward(result.config, activation, params, pts)[0].reshape(gx.shape)
    ax.contourf(gx, gy, np.clip(z, -0.5, 1.5), levels=np.linspace(-0.5, 1.5, 21), cmap="RdBu_r", alpha=0.85)
    if np.ptp(z) > 1e-3:  # a flat output (a failed seed at 0.5) has no boundary, only rounding noise
        ax.contour(gx, gy, z, levels=[0.5], colors="k", linewidths=1)
    X, y = np.asarray(result.X), np.asarray(result.y)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", vmin=-0.5, vmax=1.5, edgecolors="k", s=40 if len(X) <= 16 else 10)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_boundaries(result: XorResult, path) -> Path:
    """Decision boundary (output 0.5) of solved and failed example seeds, per activation."""
    plt = _mpl()
    rows = list(result.activations.items())
    n_cols = max(1, max(len(st.examples["solved"]) + len(st.examples["failed"]) for _, st in rows))
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.2 * n_cols, 2.2 * len(rows)), squeeze=False)
    for r, (name, st) in enumerate(rows):
        cells = [(s, "solved") for s in st.examples["solved"]] + [(s, "failed") for s in st.examples["failed"]]
        for c in range(n_cols):
            ax = axes[r][c]
            if c >= len(cells):
                ax.axis("off")
                continue
            seed, kind = cells[c]
            _boundary(ax, result, name, st.example_params[seed], f"{name}, seed {seed}: {kind}")
    fig.suptitle(f"{result.config.dataset}: decision boundaries (black: output 0.5)", fontsize=10)
    return save_figure(fig, path)


def _frames(result: XorResult, activation: str, max_frames: int | None):
    traj = result.activations[activation].trajectory
    steps, params = traj["steps"], traj["params"]
    n = len(steps)
    last = sum(1 for s in steps if s <= traj["steps_run"])  # stop when the seed stopped, as the article's GIFs did
    idx = list(range(max(1, last)))
    if max_frames and len(idx) > max_frames:
        idx = [idx[round(i * (len(idx) - 1) / (max_frames - 1))] for i in range(max_frames)]
    return [(steps[i], params[i]) for i in idx if i < n], traj["seed"]


def xor_3d_gif(result: XorResult, activation: str, path, max_frames: int | None = 200, fps: int = 20) -> Path:
    """The article's rotating 3-D scatter: (x₁, x₂, target) and (x₁, x₂, prediction), 1° per frame."""
    plt = _mpl()
    frames, seed = _frames(result, activation, max_frames)
    X, y = np.asarray(result.X), np.asarray(result.y)
    preds = [params_forward(result.config, activation, p, X)[0] for _, p in frames]
    fig = plt.figure(figsize=(5, 4.4))
    ax = fig.add_subplot(projection="3d")
    ax.scatter(X[:, 0], X[:, 1], y, c="tab:blue", s=40, label="target", depthshade=False)
    pred = ax.scatter(X[:, 0], X[:, 1], preds[0], c="tab:red", s=40, marker="^", label="prediction", depthshade=False)
    ax.set_zlim(-0.5, 1.5)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.legend(loc="upper left", fontsize=7)

    def draw(i: int):  # the view turns, so each frame is a full draw; the artists are made once
        step, _ = frames[i]
        pred._offsets3d = (X[:, 0], X[:, 1], preds[i])
        ax.view_init(elev=25, azim=-60 + i)  # 1° per frame
        mse = float(np.mean((preds[i] - y) ** 2))
        ax.set_title(f"{activation}, seed {seed}: step {step}, MSE {mse:.4f}", fontsize=9)

    return save_gif(fig, len(frames), draw, path, fps)


def boundary_gif(result: XorResult, activation: str, path, max_frames: int | None = 100, fps: int = 15) -> Path:
    """The decision boundary of one seed during training."""
    plt = _mpl()
    frames, seed = _frames(result, activation, max_frames)
    fig, ax = plt.subplots(figsize=(3.6, 3.6))

    def draw(i: int):
        ax.clear()
        step, p = frames[i]
        _boundary(ax, result, activation, p, f"{activation}, seed {seed}: step {step}")

    return save_gif(fig, len(frames), draw, path, fps)


def write_xor_outputs(result: XorResult, out_dir, gifs: bool = False, on_file=None) -> list[Path]:
    """results.json and every figure of ``result`` into ``out_dir`` (each file written atomically).

    With ``gifs``: nn_xor_<activation>.gif (the article's 3-D scatter; XOR only) and
    boundary_<activation>.gif for every activation. ``on_file(path)`` after each file.
    """
    from ._io import save_json

    out = Path(out_dir)
    jobs = [
        (out / "results.json", lambda p: save_json(result.to_dict(full=True), p)),
        (out / "success.png", lambda p: plot_success(result, p)),
        (out / "loss_curves.png", lambda p: plot_loss_curves(result, p)),
        (out / "boundaries.png", lambda p: plot_boundaries(result, p)),
    ]
    if gifs:
        for name in result.activations:
            if result.config.dataset == "xor":
                jobs.append((out / f"nn_xor_{name}.gif", lambda p, n=name: xor_3d_gif(result, n, p)))
            jobs.append((out / f"boundary_{name}.gif", lambda p, n=name: boundary_gif(result, n, p)))
    written = []
    for path, job in jobs:
        written.append(job(path))
        if on_file is not None:
            on_file(path)
    return written
