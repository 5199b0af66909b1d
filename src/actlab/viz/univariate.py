"""The article's 3×3 GIF of experiment E1: each random chain's true line against its learner."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..experiments.univariate import ChainModel, UnivariateResult
from ._io import _mpl, save_gif


def univariate_gif(result: UnivariateResult, path, max_frames: int | None = 300, fps: int = 20) -> Path:
    """True line (the chain on x = 0..9) vs the learned line, a frame every 5 steps."""
    plt = _mpl()
    idx = list(range(len(result.frames)))
    if max_frames and len(idx) > max_frames:  # keep the first and the last frame
        idx = [idx[round(i * (len(idx) - 1) / (max_frames - 1))] for i in range(max_frames)]
    x = np.arange(10.0)
    n = len(result.models)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.3 * rows), squeeze=False)
    truths = [ChainModel(tuple(m["betas"]), tuple(m["biases"]))(x) for m in result.models]

    learned, titles = [], []
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        ax.plot(x, truths[i], color="tab:blue", linewidth=2, label="random model")
        (line,) = ax.plot(x, truths[i], color="tab:red", linestyle="--", label="learned line")
        learned.append(line)
        titles.append(ax.set_title(f"n = {result.models[i]['n']}, cost 0.000", fontsize=8))
        lo, hi = truths[i].min(), truths[i].max()
        pad = 0.5 * (hi - lo) + 1.0
        ax.set_ylim(lo - pad, hi + pad)  # fixed axes: only the learned line moves
        ax.tick_params(labelsize=6)
    axes.flat[0].legend(fontsize=6, loc="best")
    suptitle = fig.suptitle("step 0", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))

    def draw(f: int):  # lines and titles only: the axes are drawn once (blitting)
        k = idx[f]
        for i, line in enumerate(learned):
            beta, b = result.frames[k][i]
            line.set_ydata(beta * x + b)
            titles[i].set_text(f"n = {result.models[i]['n']}, cost {result.costs[k][i]:.3g}")
        suptitle.set_text(f"step {result.frame_steps[k]}")

    return save_gif(fig, len(idx), draw, path, fps, dpi=72, animated=(*learned, *titles, suptitle))
