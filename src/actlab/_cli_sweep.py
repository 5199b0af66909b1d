"""``actlab sweep``: a grid of configurations × seeds, resumable, locally or on a Ray cluster.
Parse, call ``actlab.sweep``, show progress, print."""

from __future__ import annotations

import argparse
import json
import time

from ._cli_args import _console


def _add_sweep(sub) -> None:
    from .studies import presets

    p = sub.add_parser(
        "sweep",
        help="run a grid of training configurations × seeds from a TOML spec, resumably, locally or on a Ray cluster",
        description=(
            "Each cell of the spec's [grid] (the product of its lists, over the [fixed] keys) is one train_many call over "
            "seeds 0..N−1; its row — the cell's keys, success_rate with its 95% Wilson interval, median_loss, seconds, "
            "device — is appended whole to DIR/results.jsonl as it finishes. Run again with the same --out to resume: "
            "cells already written are skipped, a different spec is refused. Keys: TrainConfig's fields (hidden, "
            "activation, init, init_scale, sigma_w2, sigma_b2, lr, optimizer, n_steps, loss, stop_loss, …) and the "
            "data's (dataset, points, noise, data_draw; width with depth for hidden = [width] * depth). "
            f"Shipped specs, usable by name: {', '.join(presets())}."
        ),
        epilog=("example spec:\n  seeds = 64\n  [fixed]\n  n_steps = 300\n  optimizer = \"adam\"\n  [grid]\n"
                "  dataset = [\"xor\", \"circle\"]\n  activation = [\"linear\", \"relu\", \"tanh\", \"sigmoid\"]\n  hidden = [[4], [8, 8]]\n\n"
                "examples:\n  actlab sweep phase_diagram --out runs/phase --dry-run\n  actlab sweep my.toml --out runs/a\n"
                "  actlab sweep my.toml --out runs/a --ray auto --device cuda"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", help="a TOML spec file, or a shipped spec's name")
    p.add_argument("--out", required=True, help="the run's folder: spec.toml and results.jsonl (resumed if it exists)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the cells as tasks on this Ray cluster (auto: the cluster this machine belongs to; local: a new one here; "
                        "HOST:PORT or ray://HOST:PORT; pip install 'actlab[cluster]')")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"), help="where each cell trains (default cpu)")
    p.add_argument("--dry-run", action="store_true", help="count the cells and their arithmetic, time the cheapest pending one and estimate the rest by FLOPs; write nothing")
    p.add_argument("--json", action="store_true", help="print every row as one JSON line (no progress bar)")
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args) -> int:
    from .studies import sweep

    if args.dry_run:
        d = sweep(args.spec, args.out, device=args.device, dry_run=True)
        if args.json:
            print(json.dumps(dict(d)))
            return 0
        if not d["pending"]:
            _console().print(f"{d['cells']} cells, all written in {args.out}: nothing to run")
            return 0
        _console().print(f"{d['cells']} cells, {d['pending']} to run; {d['flops']:.3g} floating-point operations in the "
                         f"training's matrix products. The cheapest pending cell took {d['timed_seconds']:.2f} s here: at its "
                         f"rate the rest take about {_duration(d['estimated_seconds'])} in one process (a cluster divides it "
                         "by its workers)")
        return 0
    if args.json:
        for row in sweep(args.spec, args.out, ray=args.ray, device=args.device):
            print(json.dumps(row))
        return 0
    rows = _with_progress(args)
    _console().print(f"{len(rows)} rows in {args.out}/results.jsonl")
    return 0


def _with_progress(args) -> list[dict]:
    """The sweep with a progress bar on stderr: cells done, rows/s, ETA."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .studies import sweep

    bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                   TimeRemainingColumn(), console=_console(stderr=True), transient=False)
    state = {"task": None, "t0": None, "start_done": 0}

    def progress(done: int, total: int, row: dict | None) -> None:
        if state["task"] is None:  # the spec and the folder are checked: the bar starts (an error before shows alone)
            bar.start()
            state["task"] = bar.add_task("sweep", total=total, completed=done, rate="")
            state["t0"], state["start_done"] = time.perf_counter(), done
            return
        rate = (done - state["start_done"]) / max(time.perf_counter() - state["t0"], 1e-9)
        bar.update(state["task"], completed=done, rate=f"{rate:.2f} rows/s")

    try:
        return sweep(args.spec, args.out, ray=args.ray, device=args.device, progress=progress)
    finally:
        if state["task"] is not None:
            bar.stop()


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else (f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h")
