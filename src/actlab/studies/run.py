"""Run a sweep into a folder, resumably: ``DIR/spec.toml`` (the spec it ran) and
``DIR/results.jsonl`` (one whole JSON line per finished cell).

Each row is written by one ``write`` of the whole line to a file opened for appending, then
flushed to disk: a run killed at any moment leaves whole lines (a line cut short by a crash of
the machine itself is dropped on the next run, and its cell redone). Running again with the same
folder skips the cells already written and refuses a different spec, naming the difference.
Cells are independent and each is deterministic (counter-based initial weights, seeds
0..N−1), so the rows do not depend on the order they ran in, the backend, or an interruption.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from .cell import cell_flops, run_cell
from .spec import Spec, SpecError, cell_key, parse_spec

__all__ = ["sweep", "load_spec", "read_rows", "Progress", "DryRun"]

RESULTS, SPEC = "results.jsonl", "spec.toml"

Progress = Callable[[int, int, dict | None], None]  # (cells done, cells in all, the row just written or None)


class DryRun(dict):
    """``sweep(..., dry_run=True)``: {"cells", "pending", "first_cell_seconds", "estimated_seconds",
    "flops"} — flops: the pending cells' training arithmetic, counted exactly (see ``cell_flops``)."""


def load_spec(spec: str | os.PathLike | Spec) -> Spec:
    """A Spec from a path to a TOML file, a shipped preset's name (``actlab.studies.presets()``), or a Spec."""
    if isinstance(spec, Spec):
        return spec
    from .presets import preset_path

    path = Path(spec)
    if not path.exists():
        shipped = preset_path(str(spec))
        if shipped is None:
            from .presets import presets

            raise SpecError(f"no spec file {str(spec)!r} (and no shipped preset of that name: {', '.join(presets())})")
        path = shipped
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read the spec {str(path)!r}: {e}") from None
    return parse_spec(text, source=str(path))


def read_rows(out: str | os.PathLike) -> list[dict[str, Any]]:
    """The whole rows of ``DIR/results.jsonl`` (a trailing partial line is left out)."""
    path = Path(out) / RESULTS
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    return [json.loads(line) for line in (lines[:-1] if not text.endswith("\n") else lines) if line]


def _drop_partial_line(path: Path) -> None:
    """Cut a last line without its newline (a write cut short by a machine's crash)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _append(fd: int, row: dict) -> None:
    """One whole line in one write, then to disk."""
    line = (json.dumps(row, allow_nan=False) + "\n").encode()
    n = os.write(fd, line)
    if n != len(line):  # a regular file takes the whole buffer; anything else is a disk problem
        raise OSError(f"wrote {n} of {len(line)} bytes of a results line")
    os.fsync(fd)


def _written_spec(out: Path) -> Spec | None:
    """The spec a folder's earlier run wrote, or None for a new folder."""
    path = out / SPEC
    return parse_spec(path.read_text(encoding="utf-8"), source=str(path)) if path.exists() else None


def _row_key(spec: Spec, row: dict) -> str:
    """The cell a row belongs to, as ``cell_key`` names it."""
    keys = set(spec.fixed) | set(spec.grid)
    return cell_key({k: v for k, v in row.items() if k in keys})


def _pending(spec: Spec, out: Path) -> list[dict]:
    """The spec's cells without a whole row in the folder."""
    done = {_row_key(spec, r) for r in read_rows(out)}
    return [c for c in spec.cells() if cell_key(c) not in done]


def _prepare(spec: Spec, out: Path) -> list[dict]:
    """The folder checked against the spec (written there if new); the cells still to run."""
    out.mkdir(parents=True, exist_ok=True)
    before = _written_spec(out)
    if before is not None:
        diff = spec.difference(before)
        if diff:
            raise SpecError(f"{out} holds a different sweep ({diff}); use another --out, or the same spec to resume")
    else:
        tmp = out / f".{SPEC}.tmp"
        tmp.write_text(spec.text, encoding="utf-8")
        tmp.replace(out / SPEC)
    _drop_partial_line(out / RESULTS)
    return _pending(spec, out)


def sweep(spec: str | os.PathLike | Spec, out: str | os.PathLike, *, ray: str | None = None, device: str = "cpu",
          dry_run: bool = False, progress: Progress | None = None) -> list[dict] | DryRun:
    """Run every cell of ``spec`` not yet in ``out``/results.jsonl; return all the rows (those
    written before included), in the spec's cell order.

    Args:
        spec: a TOML file, a shipped preset's name, or a Spec.
        out: the folder (created; holds spec.toml and results.jsonl).
        ray: a Ray cluster's address ("auto", "HOST:PORT" or "ray://HOST:PORT"): cells run there as tasks.
        device: "cpu", "cuda" (each task asks Ray for a GPU) or "auto".
        dry_run: run the first pending cell, write nothing, return the cell count and an estimate.
        progress: called as (done, total, row) after each cell is written, and once at the start with row None.
    """
    spec = load_spec(spec)
    if device not in ("cpu", "cuda", "auto"):
        raise SpecError(f"device: expected cpu, cuda or auto, got {device!r}")
    out = Path(out)
    if dry_run:
        return _dry_run(spec, out, device)
    if ray is not None:  # an unreachable cluster or a missing Ray: said before anything is written
        from ._ray import check_ray

        check_ray(ray)
    pending = _prepare(spec, out)
    total = len(spec.cells())
    done = total - len(pending)
    if progress:
        progress(done, total, None)
    fd = os.open(out / RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        def write(row: dict) -> None:
            nonlocal done
            _append(fd, row)
            done += 1
            if progress:
                progress(done, total, row)

        if ray is None:
            for cell in pending:
                write(run_cell(cell, spec.seeds, device))
        else:
            from ._ray import run_on_ray

            run_on_ray(pending, spec.seeds, device, ray, write)
    finally:
        os.close(fd)
    order = {cell_key(c): i for i, c in enumerate(spec.cells())}
    return sorted(read_rows(out), key=lambda r: order[_row_key(spec, r)])


def _dry_run(spec: Spec, out: Path, device: str) -> DryRun:
    """The cell count, and the first pending cell timed (not written) as an estimate of the rest."""
    cells = spec.cells()
    before = _written_spec(out)
    pending = _pending(spec, out) if before is not None and spec.difference(before) is None else cells  # resumed: what is left
    flops = float(sum(cell_flops(c, spec.seeds) for c in pending))
    if not pending:
        return DryRun(cells=len(cells), pending=0, first_cell_seconds=None, estimated_seconds=0.0, flops=0.0)
    t0 = time.perf_counter()
    run_cell(pending[0], spec.seeds, device)
    first = time.perf_counter() - t0
    return DryRun(cells=len(cells), pending=len(pending), first_cell_seconds=first, estimated_seconds=first * len(pending),
                  flops=flops)
