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

import importlib
import itertools
import json
import math
import sys
from dataclasses import dataclass, fields
from typing import Any

from .. import activations, datasets
from ..train import MAXOUT, TrainConfig

__all__ = ["Spec", "SpecError", "parse_spec", "train_config", "cell_key", "DATA_KEYS", "TRAIN_KEYS", "DEFAULTS"]

# TrainConfig fields a spec may set; device, dtype and record_every belong to the run (--device), not a cell
TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig) if f.name not in ("device", "record_every"))
DATA_KEYS = ("dataset", "points", "noise", "data_draw", "width", "depth", "arch")
ARCHS = {"2-2-1": ((2,), False), "2-3-1": ((3,), False), "2-1-1+skip": ((1,), True)}  # the XOR trainability study's nets
DEFAULTS = {"dataset": "xor", "points": 200, "noise": 0.0, "data_draw": 0}  # the data when a spec leaves them out
DATASETS = (*datasets.names(), "digits_parity")
DIGITS = 1797  # rows of sklearn's bundled digits (digits_parity draws at most these)
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


def _toml():
    """The TOML parser: the standard library's from Python 3.11 on, else tomli, the same parser
    published before it joined it (a dependency on Python 3.10). Imported here, so that
    ``import actlab`` needs neither."""
    names = ("tomli",) if sys.version_info < (3, 11) else ("tomllib", "tomli")
    for name in names:  # tomllib by name: Python 3.10 never reaches it (an interpreter built without it: tomli)
        try:
            return importlib.import_module(name)
        except ImportError:
            if name == names[-1]:
                raise


def parse_spec(text: str, source: str = "the spec") -> Spec:
    """A checked Spec from TOML text; SpecError naming the first problem."""
    tomllib = _toml()
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
    spec = Spec(seeds, fixed, grid, text)
    _check_cells(spec, source)
    return spec


def train_config(cell: dict[str, Any], device: str) -> TrainConfig:
    """The cell's TrainConfig: its TrainConfig keys, ``width``·``depth`` as ``hidden``, no loss history."""
    kw = {k: v for k, v in cell.items() if k in TRAIN_KEYS}
    if "hidden" in kw:
        kw["hidden"] = tuple(kw["hidden"]) if isinstance(kw["hidden"], list) else kw["hidden"]
    if "width" in cell:
        kw["hidden"] = (cell["width"],) * cell["depth"]
    if "arch" in cell:
        kw["hidden"], kw["skip"] = ARCHS[cell["arch"]]
    return TrainConfig(**kw, record_every=0, device=device)


def _inert(key: str, cell: dict[str, Any]) -> str | None:
    """Why ``key`` changes nothing in ``cell`` (the setting that makes it so), or None where it acts."""
    init, data = cell.get("init", "glorot"), cell.get("dataset", DEFAULTS["dataset"])
    if key in ("sigma_w2", "sigma_b2") and init != "gaussian":
        return f"init = {init!r}: σ_w² and σ_b² set the Gaussian init only (init = \"gaussian\")"
    if key == "init_scale" and init == "gaussian":
        return "init = 'gaussian': its scale is sigma_w2"
    if key == "maxout_k" and cell.get("activation", "linear") != MAXOUT:
        return f"activation = {cell.get('activation', 'linear')!r}: maxout_k counts maxout's pieces"
    if key == "points" and data == "xor":
        return "dataset = 'xor': its 4 points"
    if key == "noise" and data == "digits_parity":
        return "dataset = 'digits_parity': no noise is added to the digits"
    if key == "data_draw" and data == "xor" and not cell.get("noise", DEFAULTS["noise"]):
        return "dataset = 'xor' without noise: nothing is drawn"
    if key == "data_seed" and cell.get("batch_size") is None:
        return "full batch (batch_size unset): data_seed orders minibatches"
    return None


def _check_cells(spec: Spec, source: str) -> None:
    """Every cell's whole TrainConfig built and its data's size checked; a key that changes nothing
    refused: a [fixed] key inert in every cell, a [grid] key of several values inert in any (its
    cells would be copies)."""
    cells = spec.cells()
    for cell in cells:
        try:
            train_config(cell, "cpu")
        except (ValueError, TypeError) as e:
            raise SpecError(f"{source}: the cell {cell_key(cell)} cannot run: {e}") from None
        if cell.get("dataset") == "digits_parity" and cell.get("points", DEFAULTS["points"]) > DIGITS:
            raise SpecError(f"{source}: points = {cell['points']}: digits_parity has {DIGITS} digits")
        if cell.get("dataset", DEFAULTS["dataset"]) != "xor" and cell.get("points", DEFAULTS["points"]) < 4:
            raise SpecError(f"{source}: points = {cell['points']}: expected at least 4")
    for key in [*spec.fixed, *spec.grid]:
        why = [w for w in (_inert(key, c) for c in cells) if w]
        several = key in spec.grid and len(spec.grid[key]) > 1
        if (several and why) or (not several and len(why) == len(cells)):
            raise SpecError(f"{source}: {key} changes nothing where {why[0]}; set what it needs, or drop it")
