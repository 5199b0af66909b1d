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


TIGHT_PAD = 0.1  # inches of margin around the drawn content, as matplotlib's bbox_inches="tight" leaves
OVERHANG = 0.5  # inches drawn beyond each edge of the figure: labels that overhang it are kept


def save_figure(fig, path: str | os.PathLike, dpi: int = 110, tight: bool = True) -> Path:
    """``fig`` written atomically, then closed; ``tight`` crops to the drawn content.

    A tight PNG is drawn once, with OVERHANG inches around the figure (tick labels overhang a
    small figure's edge), and cropped by its pixels to what differs from the background, plus
    matplotlib's margin: ``bbox_inches="tight"`` would measure every text's extent and draw twice,
    which costs more than the draw itself. Where the content reaches the drawn edge (something may
    lie further out), and for other formats, matplotlib's own tight bounding box is used."""
    plt = _mpl()
    fmt = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        if not (tight and fmt == "png" and _save_cropped(fig, tmp, dpi)):
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None, format=fmt)
    plt.close(fig)
    return Path(path)


def _save_cropped(fig, path: Path, dpi: int) -> bool:
    """``fig`` as a PNG cropped to its drawn pixels plus TIGHT_PAD; False (nothing written) where
    the content touches the edge of what was drawn, or matplotlib lacks the tool for it."""
    import numpy as np
    from matplotlib.colors import to_rgba
    from matplotlib.transforms import Bbox
    from PIL import Image

    try:
        from matplotlib._tight_bbox import adjust_bbox  # what savefig(bbox_inches=…) itself uses
    except ImportError:
        return False
    fig.set_dpi(dpi)
    w, h = fig.get_size_inches()
    restore = adjust_bbox(fig, Bbox.from_extents(-OVERHANG, -OVERHANG, w + OVERHANG, h + OVERHANG), None)
    try:
        fig.canvas.draw()
        rgba = np.array(fig.canvas.buffer_rgba())
    finally:
        restore()
    background = np.array([round(255 * v) for v in to_rgba(fig.get_facecolor())], dtype=rgba.dtype)
    drawn = (rgba != background).any(-1)
    rows, cols = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
    if not len(rows) or rows[0] == 0 or cols[0] == 0 or rows[-1] == drawn.shape[0] - 1 or cols[-1] == drawn.shape[1] - 1:
        return False
    pad = round(TIGHT_PAD * dpi)
    y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, drawn.shape[0])
    x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, drawn.shape[1])
    Image.fromarray(np.ascontiguousarray(rgba[y0:y1, x0:x1])).save(path, format="png", dpi=(dpi, dpi))
    return True


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
