"""Cells as Ray tasks on an existing cluster: each a task (asking for a GPU with
``device="cuda"``), retried by Ray when its node is lost; rows written by the driver as tasks
finish. Ray is the ``actlab[cluster]`` extra, imported only here."""

from __future__ import annotations

import socket
from typing import Any, Callable

from .spec import SpecError, cell_key

__all__ = ["run_on_ray", "check_ray", "CellError", "CONNECT_TIMEOUT_S", "TASK_RETRIES"]

CONNECT_TIMEOUT_S = 20.0  # an address that does not answer: a clear error within this
TASK_RETRIES = 5  # Ray re-runs a task whose node died, this many times


class CellError(RuntimeError):
    """A cell that failed on the cluster (after Ray's retries): the run stops, naming it."""


def _cause(e: Exception) -> str:
    """The task's own exception where Ray wraps it, in one line."""
    cause = getattr(e, "cause", None) or e
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"


def _check_address(address: str) -> None:
    """Fail fast on a HOST:PORT that nobody listens on (ray.init itself waits for minutes)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise SpecError(f"--ray: expected auto, local, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise SpecError(f"--ray {address}: no Ray cluster answers there ({e})") from None


def check_ray(address: str) -> None:
    """Ray importable and ``address`` answering; SpecError naming what is missing."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise SpecError("--ray needs Ray: pip install 'actlab[cluster]'") from None
    _check_address(address)


def run_on_ray(cells: list[dict[str, Any]], seeds: int, device: str, address: str, write: Callable[[dict], None]) -> None:
    """Run ``cells`` as tasks on the cluster at ``address``; ``write`` each row as it arrives."""
    import ray

    from .cell import run_cell

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        task = ray.remote(num_cpus=1, num_gpus=1 if device == "cuda" else 0, max_retries=TASK_RETRIES,
                          retry_exceptions=False)(run_cell)
        cell_of = {}
        for cell in cells:
            cell_of[task.remote(cell, seeds, device)] = cell
        waiting = list(cell_of)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            try:
                row = ray.get(ready[0])
            except Exception as e:  # one cell failed for good: the others are cancelled, the error names it
                for ref in waiting:
                    ray.cancel(ref, force=True)
                raise CellError(f"the cell {cell_key(cell_of[ready[0]])} failed on the cluster: {_cause(e)}") from None
            write(row)
    finally:
        if started:
            ray.shutdown()
