"""A sweep's spec: TOML with ``seeds = N``, a ``[fixed]`` table and a ``[grid]`` table.

    seeds = 64
    [fixed]
    n_steps = 300
    optimizer = "adam"
    [grid]
    dataset = ["xor", "circle"]
    activation = ["linear", "relu", "tanh", "sigmoid"]
    hidden = [[4], [8, 8]]

Keys are ``TrainConfig`` fields (``hidden``, ``activation``, ``init``, ``init_scale``,
``sigma_w2``, ``lr``, ``optimizer``, ``n_steps``, …) plus the data's: ``dataset`` (the lab's
sets, or ``digits_parity``: sklearn's bundled digits, odd against even), ``points`` (default
200; xor has its 4), ``noise`` (default 0), ``data_draw`` (the data's seed, default 0); ``width``
with ``depth`` as a shorthand for ``hidden = [width] * depth``; and ``arch``, one of the XOR
trainability study's nets ("2-2-1", "2-3-1", "2-1-1+skip": hidden and skip together). The cells are the product of the
grid's lists, in the spec's key order; each is one ``train_many`` call over seeds 0..N−1.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
from dataclasses import dataclass, fields
from typing import Any

from .. import activations, datasets
from ..train import MAXOUT, TrainConfig

__all__ = ["Spec", "SpecError", "parse_spec", "DATA_KEYS", "TRAIN_KEYS", "DEFAULTS"]

# TrainConfig fields a spec may set; device, dtype and record_every belong to the run (--device), not a cell
TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig) if f.name not in ("device", "record_every"))
DATA_KEYS = ("dataset", "points", "noise", "data_draw", "width", "depth", "arch")
ARCHS = {"2-2-1": ((2,), False), "2-3-1": ((3,), False), "2-1-1+skip": ((1,), True)}  # the XOR trainability study's nets
DEFAULTS = {"dataset": "xor", "points": 200, "noise": 0.0, "data_draw": 0}  # the data when a spec leaves them out
DATASETS = (*datasets.names(), "digits_parity")
ROW_KEYS = ("seeds", "n_success", "success_rate", "success_ci", "median_loss", "criterion", "seconds", "device")  # a row adds these


class SpecError(ValueError):
    """A spec that cannot run: one line naming the key, what was expected and what arrived."""


@dataclass(frozen=True)
class Spec:
    seeds: int
    fixed: dict[str, Any]
    grid: dict[str, list]
    text: str  # the TOML as given (written to DIR/spec.toml)

    def cells(self) -> list[dict[str, Any]]:
        """Every cell: the fixed keys, then one value of each grid key (the grid's product)."""
        keys = list(self.grid)
        return [{**self.fixed, **dict(zip(keys, values))} for values in itertools.product(*(self.grid[k] for k in keys))]

    def canonical(self) -> dict:
        return {"seeds": self.seeds, "fixed": self.fixed, "grid": self.grid}

    def difference(self, other: "Spec") -> str | None:
        """The first difference from ``other``, as "KEY: A here, B there"; None when they run the same cells."""
        a, b = self.canonical(), other.canonical()
        if a["seeds"] != b["seeds"]:
            return f"seeds: {a['seeds']} here, {b['seeds']} there"
        for table in ("fixed", "grid"):
            for k in dict.fromkeys([*a[table], *b[table]]):
                if a[table].get(k, "absent") != b[table].get(k, "absent"):
                    return f"[{table}] {k}: {a[table].get(k, 'absent')!r} here, {b[table].get(k, 'absent')!r} there"
        return None


def cell_key(cell: dict[str, Any]) -> str:
    """A cell's identity in results.jsonl: its keys and values, canonical JSON."""
    return json.dumps(cell, sort_keys=True, separators=(",", ":"))


def _check_value(key: str, value: Any) -> None:
    """One key's value, checked by what it feeds (TrainConfig's own checks for its fields)."""
    where = f"{key} = {value!r}"
    if key == "dataset":
        if value not in DATASETS:
            raise SpecError(f"{where}: unknown dataset; expected one of {', '.join(DATASETS)}")
    elif key == "activation":
        if value != MAXOUT:
            try:
                activations.resolve(value)
            except (ValueError, TypeError):
                raise SpecError(f"{where}: unknown activation; expected one of {', '.join(activations.names())}, maxout") from None
    elif key in ("points", "depth", "width", "data_draw"):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= (0 if key == "data_draw" else 1)):
            raise SpecError(f"{where}: expected an integer ≥ {0 if key == 'data_draw' else 1}")
    elif key == "arch":
        if value not in ARCHS:
            raise SpecError(f"{where}: unknown arch; expected one of {', '.join(ARCHS)} (or hidden and skip)")
    elif key == "noise":
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < math.inf):
            raise SpecError(f"{where}: expected a number ≥ 0")
    elif key in TRAIN_KEYS:
        try:
            TrainConfig(**{key: tuple(value) if key == "hidden" and isinstance(value, list) else value})
        except (ValueError, TypeError) as e:
            raise SpecError(f"{where}: {e}") from None
    else:
        raise SpecError(f"unknown key {key!r}; expected TrainConfig fields ({', '.join(TRAIN_KEYS)}) or {', '.join(DATA_KEYS)}")


def parse_spec(text: str, source: str = "the spec") -> Spec:
    """A checked Spec from TOML text; SpecError naming the first problem."""
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{source} is not valid TOML: {e}") from None
    unknown = set(d) - {"seeds", "fixed", "grid"}
    if unknown:
        raise SpecError(f"{source}: unknown top-level key {sorted(unknown)[0]!r}; expected seeds, [fixed] and [grid]")
    seeds = d.get("seeds")
    if not (isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1):
        raise SpecError(f"{source}: seeds must be an integer ≥ 1, got {seeds!r}")
    fixed, grid = d.get("fixed", {}), d.get("grid")
    if not isinstance(fixed, dict):
        raise SpecError(f"{source}: [fixed] must be a table, got {type(fixed).__name__}")
    if not isinstance(grid, dict) or not grid:
        raise SpecError(f"{source}: [grid] must be a table with at least one key, got {grid!r}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"{source}: [grid] {key} must be a non-empty list of values, got {values!r}")
        if key in fixed:
            raise SpecError(f"{source}: {key} is in both [fixed] and [grid]; keep it in one")
    for key, value in fixed.items():
        _check_value(key, value)
    for key, values in grid.items():
        for value in values:
            _check_value(key, value)
    keys = set(fixed) | set(grid)
    if ("width" in keys) != ("depth" in keys):
        raise SpecError(f"{source}: width and depth go together (hidden = [width] * depth); got only {'width' if 'width' in keys else 'depth'}")
    if len({"hidden", "width", "arch"} & keys) > 1 or ("arch" in keys and "skip" in keys):
        raise SpecError(f"{source}: give one of hidden, width and depth, or arch (which sets hidden and skip)")
    return Spec(seeds, fixed, grid, text)
