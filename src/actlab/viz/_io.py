"""Atomic file output: write beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _mpl():
    import matplotlib

    matplotlib.use("Agg", force=False)  # headless: no display is needed or used
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``path``.

    An interruption or an error leaves no partial file at ``path`` (and removes the temporary).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide figures from a web server
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_figure(fig, path: str | os.PathLike, dpi: int = 110, tight: bool = True) -> Path:
    """``fig`` written atomically, then closed; ``tight`` crops to the drawn content (one more draw)."""
    plt = _mpl()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def save_gif(fig, n_frames: int, update, path: str | os.PathLike, fps: int, *, dpi: int | None = None, animated=()) -> Path:
    """Render ``n_frames`` frames of ``fig`` — ``update(i)`` changes the artists for frame i —
    straight from the Agg canvas into a GIF, written atomically; ``fig`` is closed.

    With ``animated`` artists, the rest of the figure is drawn once and cached, and each frame
    redraws only those artists over it (blitting): a frame costs its moving lines and texts,
    not nine axes with their ticks. Without, each frame is one full draw (a rotating 3-D view
    changes everything) — still one draw, where matplotlib's animation writer makes three.
    Frames share one palette (from the last frame) so that colours do not flicker."""
    import numpy as np
    from PIL import Image

    plt = _mpl()
    if dpi is not None:
        fig.set_dpi(dpi)
    canvas = fig.canvas
    for a in animated:
        a.set_animated(True)
    if animated:
        canvas.draw()
        background = canvas.copy_from_bbox(fig.bbox)
    images = []
    for i in range(n_frames):
        update(i)
        if animated:
            canvas.restore_region(background)
            for a in animated:
                fig.draw_artist(a)
        else:
            canvas.draw()
        images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    plt.close(fig)
    if not images:
        raise ValueError("a GIF needs at least one frame")
    palette = images[-1].quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    frames = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0)
    return Path(path)


def save_json(obj, path: str | os.PathLike) -> Path:
    import json

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, allow_nan=False, default=_jsonable))
    return Path(path)


def _jsonable(x):
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
