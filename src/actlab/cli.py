"""The ``actlab`` command: parse, call one library function, print. No logic lives here."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from . import activations

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def _activation(value: str) -> str:
    try:
        return activations.resolve(value)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


def _nonneg_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {value!r}")
    return n


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # a pipe or a log gets wide lines rather than numbers cut to "1.0…"
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 200)


def _num(x: Any, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


# ---------------------------------------------------------------------------- collapse


def _add_collapse(sub) -> None:
    p = sub.add_parser(
        "collapse",
        help="random dense/conv/rnn networks: the seed's OLS fit beside the exact collapse",
        description=(
            "Draw the seed's random networks (E2 dense, E3 conv, E4 rnn) and compare the article's "
            "method (sklearn LinearRegression on the seed's sample counts, r² and MSE on 1,024 test rows) "
            "with the exact collapse (d+1 basis probes or one batched backward pass, certified on fresh "
            "points). With a nonlinear --activation the verdict is 'not affine' and the residual says how far."
        ),
        epilog="examples:\n  actlab collapse --arch conv --seed 3\n  actlab collapse --arch all --n-seeds 5 --activation relu --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--arch", default="all", choices=["dense", "conv", "rnn", "all"], help="architecture to draw (default: all three)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="first seed: draws sizes and weights (default 0)")
    p.add_argument("--n-seeds", type=_positive_int, default=1, help="seeds seed..seed+n-1 per architecture (default 1)")
    p.add_argument("--activation", type=_activation, default="linear", help="hidden activation, a registry name (default linear; see `actlab activations`)")
    p.add_argument("--no-ols", action="store_true", help="skip the seed's OLS baseline (it takes seconds on conv nets)")
    p.add_argument("--json", action="store_true", help="print a JSON list of result objects instead of a table")
    p.set_defaults(func=_cmd_collapse)


def _cmd_collapse(args) -> int:
    from .experiments.collapse import run_collapse_many

    archs = ["dense", "conv", "rnn"] if args.arch == "all" else [args.arch]
    seeds = list(range(args.seed, args.seed + args.n_seeds))
    total = len(archs) * len(seeds)
    if args.json:
        rows = run_collapse_many(archs, seeds, args.activation, ols=not args.no_ols)
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

    with Progress(console=_console(stderr=True), transient=True) as progress:
        task = progress.add_task("drawing and collapsing", total=total)
        rows = run_collapse_many(archs, seeds, args.activation, ols=not args.no_ols, on_row=lambda r: progress.advance(task))
    table = Table(title=f"random networks, activation {args.activation}: the seed's OLS vs exact collapse")
    for col in ("arch", "seed", "drawn", "OLS r²", "OLS MSE", "OLS s", "collapse max rel err", "collapse s", "rank", "verdict", "residual"):
        table.add_column(col, justify="left" if col in ("arch", "drawn", "verdict") else "right")
    for r in rows:
        table.add_row(
            r.arch, str(r.seed), Text(r.summary), _num(r.ols_r2, ".15f"), _num(r.ols_mse, ".2e"), _num(r.ols_seconds, ".2f"),
            _num(r.collapse_max_rel_error, ".1e"), _num(r.collapse_seconds, ".3f"), _num(r.rank, "d"),
            r.verdict, _num(r.residual, ".1e"),
        )
    _console().print(table)
    return 0


# ---------------------------------------------------------------------------- activations


def _add_activations(sub) -> None:
    p = sub.add_parser(
        "activations",
        help="list the activation registry",
        description="Every activation actlab knows, with its formula and aliases. Use the names with --activation.",
    )
    p.add_argument("--json", action="store_true", help="print the registry as JSON")
    p.set_defaults(func=_cmd_activations)


def _cmd_activations(args) -> int:
    entries = [activations.get(n) for n in activations.names()]
    if args.json:
        print(json.dumps([a.to_dict() for a in entries], indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"{len(entries)} activations")
    for col in ("name", "aliases", "formula", "affine", "sympy twin"):
        table.add_column(col)
    for a in entries:
        table.add_row(a.name, ", ".join(a.aliases), a.formula, "yes" if a.is_affine else "no", "yes" if a.sympy else "no")
    _console().print(table)
    return 0


# ---------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="actlab",
        description="Why neural networks need activation functions, by measurement: exact affine collapse, "
        "affinity tests, XOR over thousands of seeds.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"actlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_collapse(sub)
    _add_activations(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError) as exc:  # a user's mistake: one line, no traceback
        sys.stderr.write(f"actlab {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
