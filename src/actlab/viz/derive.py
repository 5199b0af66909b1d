"""A derivation (``actlab.symbolic.Derivation``) rendered as an image with matplotlib mathtext."""

from __future__ import annotations

from pathlib import Path

from ._io import _mpl, save_figure


def render_derivation(derivation, path, width_in: float = 10.0) -> Path:
    """PNG or SVG (by ``path``'s suffix) of every step: titles, sentences, equations."""
    plt = _mpl()
    lines = derivation.lines()
    heights = {"title": 0.42, "text": 0.32, "math": 0.46}
    total = sum(heights[k] for k, _ in lines) + 0.4
    fig = plt.figure(figsize=(width_in, total))
    y = 1.0 - 0.2 / total
    for kind, text in lines:
        if kind == "title":
            fig.text(0.02, y, text, fontsize=12, weight="bold", va="top")
        elif kind == "text":
            fig.text(0.02, y, text, fontsize=9, va="top", wrap=True)
        else:
            fig.text(0.04, y, f"${text}$", fontsize=11, va="top")
        y -= heights[kind] / total
    return save_figure(fig, path, dpi=120, tight=False)  # the figure is sized to its lines: one draw, not two
