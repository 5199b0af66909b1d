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


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    plt = _mpl()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def save_gif(anim, path: str | os.PathLike, fps: int, dpi: int | None = None) -> Path:
    """A matplotlib animation as a GIF, written atomically."""
    from matplotlib.animation import PillowWriter

    with atomic_path(path) as tmp:
        anim.save(tmp, writer=PillowWriter(fps=fps), dpi=dpi)
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
