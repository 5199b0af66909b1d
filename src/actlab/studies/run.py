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
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from .cell import cell_flops, run_cell
from .spec import Spec, SpecError, cell_key, parse_spec

__all__ = ["sweep", "load_spec", "read_rows", "Progress", "DryRun"]

RESULTS, SPEC, LOCK = "results.jsonl", "spec.toml", ".lock"

Progress = Callable[[int, int, dict | None], None]  # (cells done, cells in all, the row just written or None)


class DryRun(dict):
    """``sweep(..., dry_run=True)``: {"cells", "pending", "timed_cell", "timed_seconds",
    "estimated_seconds", "flops"} — flops: the pending cells' training arithmetic, counted exactly
    (see ``cell_flops``); the estimate scales the timed (cheapest) cell's seconds by the flops."""


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
    """The whole rows of ``DIR/results.jsonl``, one per cell (the first written, where two runs
    wrote one twice); a trailing partial line (a write cut short) is left out. A damaged line
    elsewhere is a SpecError naming its number."""
    path = Path(out) / RESULTS
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines[:-1] if not text.endswith("\n") else lines, 1):
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            row = e
        if not isinstance(row, dict):
            raise SpecError(f"{path} line {number} is not a whole row ({line[:60]!r}); delete that line to run its cell again")
        rows.append(row)
    spec = _written_spec(Path(out))
    if spec is None:
        return rows
    seen: set[str] = set()
    unique = []
    for row in rows:
        key = _row_key(spec, row)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _drop_partial_line(path: Path) -> None:
    """Cut a last line without its newline (a write cut short by a machine's crash)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _crash_hook() -> tuple[str, int] | None:
    """ACTLAB_SWEEP_CRASH=after:N or mid:N (for the tests of resume): kill this process after the
    Nth row is written, or halfway through writing it, as a power cut or kill -9 would."""
    value = os.environ.get("ACTLAB_SWEEP_CRASH", "")
    when, _, n = value.partition(":")
    return (when, int(n)) if when in ("after", "mid") and n.isdigit() else None


def _die() -> None:
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)


def _append(fd: int, row: dict, number: int = 0) -> None:
    """One whole line in one write, then to disk. ``number``: the row's count in this run (the crash hook's)."""
    line = (json.dumps(row, allow_nan=False) + "\n").encode()
    crash = _crash_hook()
    if crash == ("mid", number):
        os.write(fd, line[: len(line) // 2])
        os.fsync(fd)
        _die()
    n = os.write(fd, line)
    if n != len(line):  # a regular file takes the whole buffer; anything else is a disk problem
        raise OSError(f"wrote {n} of {len(line)} bytes of a results line")
    os.fsync(fd)
    if crash == ("after", number):
        _die()


@contextmanager
def _locked(out: Path):
    """Hold ``DIR/.lock`` for the run: a second run on the folder is refused while the first lives
    (the lock goes with its process, kill -9 included, so a resume is never blocked)."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise SpecError(f"another actlab sweep (pid {pid}) is running on {out}; wait for it to finish, or use another --out")
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


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


def _same_sweep(spec: Spec, out: Path) -> Spec | None:
    """The spec ``out`` holds (None for a new folder); SpecError where it differs from ``spec``."""
    before = _written_spec(out) if out.is_dir() else None
    diff = spec.difference(before) if before is not None else None
    if diff:
        raise SpecError(f"{out} holds a different sweep ({diff}); use another --out, or the same spec to resume")
    return before


def _prepare(spec: Spec, out: Path) -> list[dict]:
    """The folder checked against the spec (written there if new); the cells still to run."""
    out.mkdir(parents=True, exist_ok=True)
    if _same_sweep(spec, out) is None:
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
        dry_run: time the cheapest pending cell, write nothing, return the cell count and an estimate
            by floating-point operations over all pending cells.
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
    _same_sweep(spec, out)  # refused before the folder is touched
    with _locked(out):
        _run(spec, out, ray, device, progress)
    order = {cell_key(c): i for i, c in enumerate(spec.cells())}
    return sorted(read_rows(out), key=lambda r: order[_row_key(spec, r)])


def _run(spec: Spec, out: Path, ray: str | None, device: str, progress: Progress | None) -> None:
    """The pending cells run and each row appended as it comes (the folder locked by the caller)."""
    pending = _prepare(spec, out)
    total = len(spec.cells())
    done = total - len(pending)
    if progress:
        progress(done, total, None)
    fd = os.open(out / RESULTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    written = 0
    try:
        def write(row: dict) -> None:
            nonlocal done, written
            written += 1
            _append(fd, row, written)
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


def _dry_run(spec: Spec, out: Path, device: str) -> DryRun:
    """The cell count and an estimate: the cheapest pending cell timed (not written), its seconds
    per floating-point operation scaled to all the pending cells' operations. A folder holding a
    different spec is refused as the run would refuse it."""
    cells = spec.cells()
    pending = _pending(spec, out) if _same_sweep(spec, out) is not None else cells
    flops = [cell_flops(c, spec.seeds) for c in pending]
    if not pending:
        return DryRun(cells=len(cells), pending=0, timed_cell=None, timed_seconds=None, estimated_seconds=0.0, flops=0.0)
    i = min(range(len(pending)), key=flops.__getitem__)
    t0 = time.perf_counter()
    run_cell(pending[i], spec.seeds, device)
    took = time.perf_counter() - t0
    return DryRun(cells=len(cells), pending=len(pending), timed_cell=pending[i], timed_seconds=took,
                  estimated_seconds=took * sum(flops) / max(flops[i], 1), flops=float(sum(flops)))
