"""The command line's argument types and console: what every ``actlab`` subcommand parses with."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import activations

def _activation(value: str) -> str:
    try:
        return activations.resolve(value)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_INT_MAX = 2**62  # counts and seeds are int64 tensors; anything near this is a typo, not a request


def _int_in(lo: int, hi: int, what: str, range_what: str):
    """An argparse type: an integer in [lo, hi]; ``what`` names it when it is not an integer,
    ``range_what`` when it is out of range."""

    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"expected {range_what}, got {value!r}")
        return n

    return parse


_positive_int = _int_in(1, _INT_MAX, "a positive integer", "a positive integer up to 2^62")
_nonneg_int = _int_in(0, _INT_MAX, "an integer ≥ 0", "an integer ≥ 0 and at most 2^62")
_port = _int_in(1, 65535, "a port number 1..65535", "a port number 1..65535")


def _folder(value: str) -> str:
    """An output folder: created if missing, refused if a file is in the way."""
    import os

    if os.path.exists(value) and not os.path.isdir(value):
        raise argparse.ArgumentTypeError(f"{value!r} is an existing file; expected a folder (created if missing)")
    return value


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # a pipe or a log gets wide lines rather than numbers cut to "1.0…"
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 200)


def _num(x: Any, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def _int_list(value: str, what: str, example: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} like {example}, got {value!r}") from None
    if not out or any(v < 1 for v in out):
        raise argparse.ArgumentTypeError(f"{what} must be ≥ 1, got {value!r}")
    return out


def _widths(value: str) -> tuple[int, ...]:
    return _int_list(value, "hidden widths", "4 or 8,8")


def _activation_list(value: str) -> tuple[str, ...]:
    from .train import MAXOUT

    if value.strip() == "all":
        return (*activations.names(), MAXOUT)
    out = []
    for name in (v.strip() for v in value.split(",") if v.strip()):
        if name == MAXOUT:
            out.append(name)
            continue
        try:
            out.append(activations.resolve(name))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"unknown activation {name!r}; expected 'all' or a comma-separated list of: "
                f"{', '.join(activations.names(include_aliases=True))}, {MAXOUT}"
            ) from None
    if not out:
        raise argparse.ArgumentTypeError("expected at least one activation")
    return tuple(out)


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
    if not (x > 0 and x < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return x
