"""The playground's settings: TensorFlow Playground's URL-hash keys, plus actlab's own.

A TensorFlow Playground link (``…#activation=tanh&dataset=xor&networkShape=4,2``) opens here
with its settings; values keep that playground's meaning. ``parse`` takes the hash's keys (as
strings, or as numbers and booleans from ``window.playground.set``) and returns the settings
and a notice for every bad value (which falls back to its default). Unknown keys are ignored.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .. import activations

__all__ = ["Settings", "parse", "schema", "CLASSIFY_SETS", "REGRESS_SETS", "FEATURES", "LIMITS", "max_seeds"]

# TensorFlow Playground's dataset values, then actlab's own sets ("custom": points added on the page)
CLASSIFY_SETS = ("circle", "xor", "gauss", "spiral", "moons", "checkerboard", "xor4", "custom")
REGRESS_SETS = ("reg-plane", "reg-gauss", "custom")
# input features in TensorFlow Playground's key names, in its order
FEATURES = ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")
LIMITS = {"layers": 8, "neurons": 64, "seeds": 1000, "seed_params": 2_000_000}


@dataclass(frozen=True)
class Settings:
    """One run's set-up. Field names are the URL-hash keys."""

    activation: str = "tanh"  # TensorFlow Playground's default
    dataset: str = "circle"
    regDataset: str = "reg-plane"
    networkShape: tuple[int, ...] = (4, 2)  # hidden widths; () is a linear model
    learningRate: float = 0.03
    batchSize: int = 10
    noise: int = 0  # 0..50, as in TensorFlow Playground (percent)
    percTrainData: int = 50  # 10..90
    regularization: str = "none"  # none, L1, L2
    regularizationRate: float = 0.0
    problem: str = "classification"  # or regression
    x: bool = True
    y: bool = True
    xSquared: bool = False
    ySquared: bool = False
    xTimesY: bool = False
    sinX: bool = False
    sinY: bool = False
    seed: str = "0.5"  # the data's seed, a string as in TensorFlow Playground's links
    showTestData: bool = False
    discretize: bool = False
    # actlab's keys
    seeds: int = 100  # networks trained at once: seeds 0..seeds−1 (the same initial weights as actlab's trainer)
    optimizer: str = "sgd"  # TensorFlow Playground's; or adam
    loss: str = "mse"  # ½(ŷ−y)² as TensorFlow Playground; or bce (cross-entropy on the output logit)
    compare: str = "none"  # a second activation trained on the same seeds, or none
    init: str = "glorot"  # initial weights: glorot (actlab's trainer's), gaussian (sigmaW2, sigmaB2) or critical (the edge of chaos)
    sigmaW2: float = 1.0  # gaussian: weights N(0, sigmaW2/fan_in)
    sigmaB2: float = 0.0  # gaussian and critical: biases N(0, sigmaB2)
    initZero: bool = False  # TensorFlow Playground's: every weight and bias starts at 0 (the symmetry no seed breaks)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(f for f in FEATURES if getattr(self, f))

    @property
    def data_name(self) -> str:
        return self.dataset if self.problem == "classification" else self.regDataset

    @property
    def data_seed(self) -> int:
        """The seed string as an integer (TensorFlow Playground's are strings like '0.12345')."""
        return int.from_bytes(hashlib.sha256(self.seed.encode()).digest()[:8], "little") >> 1

    def to_hash(self) -> dict[str, Any]:
        """The settings as URL-hash values (strings, as a link writes them)."""
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, bool):
                out[k] = "true" if v else "false"
            elif isinstance(v, tuple):
                out[k] = ",".join(map(str, v))
            else:
                out[k] = str(v)
        return out


def _activation_names() -> tuple[str, ...]:
    return tuple(activations.names()) + ("maxout",)


def n_params(settings: Settings, n_in: int, maxout_k: int = 2) -> int:
    k = maxout_k if settings.activation == "maxout" or settings.compare == "maxout" else 1
    widths = [n_in, *settings.networkShape, 1]
    return sum((k if i < len(widths) - 2 else 1) * widths[i + 1] * (widths[i] + 1) for i in range(len(widths) - 1))


SEED_BLOCK = 16  # a cap above it is rounded down to a multiple: the fused step trains seeds in blocks of 8, two at once


def max_seeds(settings: Settings) -> int:
    """Seeds × parameters is capped so that one request cannot exhaust memory. A cap of more than
    SEED_BLOCK seeds is rounded down to whole blocks: an 8 × 64 net's cap of 68 seeds trained 72
    lanes, five blocks of 8 on one core and four on the other; 64 seeds train 25 % more epochs a
    second, 14 % more seed-epochs (benchmarks/bench_play.py)."""
    per = n_params(settings, max(1, len(settings.features)))
    cap = min(LIMITS["seeds"], LIMITS["seed_params"] // per)
    return max(1, cap - cap % SEED_BLOCK if cap > SEED_BLOCK else cap)


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false", "1", "0"):
        return v.lower() in ("true", "1")
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    raise ValueError("expected true or false")


def _number(v: Any, kind: type, lo: float, hi: float) -> Any:
    if isinstance(v, bool):
        raise ValueError("expected a number")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError("expected a number") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ValueError(f"expected a number in [{lo:g}, {hi:g}]")
    if kind is int:
        if x != int(x):
            raise ValueError("expected a whole number")
        return int(x)
    return x


def _choice(v: Any, valid: tuple[str, ...], aliases: dict[str, str] | None = None) -> str:
    s = str(v)
    s = (aliases or {}).get(s, s)
    if s not in valid:
        raise ValueError("expected one of " + ", ".join(valid))
    return s


def _shape(v: Any) -> tuple[int, ...]:
    if isinstance(v, (list, tuple)):
        parts = list(v)
    else:
        s = str(v).strip()
        parts = [p for p in s.split(",")] if s else []
    widths = []
    for p in parts:
        w = _number(p, int, 1, LIMITS["neurons"])
        widths.append(w)
    if len(widths) > LIMITS["layers"]:
        raise ValueError(f"at most {LIMITS['layers']} hidden layers")
    return tuple(widths)


def _activation(v: Any) -> str:
    s = str(v)
    if s == "maxout":
        return s
    try:
        return activations.resolve(s)
    except ValueError:
        raise ValueError("expected one of " + ", ".join(_activation_names())) from None


def _seed(v: Any) -> str:
    s = str(v).strip()
    if not s or len(s) > 64:
        raise ValueError("expected a non-empty string of at most 64 characters")
    return s


# Every URL key's rule, one table: ``parse`` applies it here and ``schema`` hands it to the static
# page, which applies the same rules in the browser.
_RULES: dict[str, tuple] = {
    "activation": ("activation",),
    "dataset": ("choice", CLASSIFY_SETS),
    "regDataset": ("choice", REGRESS_SETS),
    "networkShape": ("shape",),
    "learningRate": ("float", 1e-6, 10.0),
    "batchSize": ("int", 1, 1000),
    "noise": ("int", 0, 50),
    "percTrainData": ("int", 10, 90),
    "regularization": ("choice", ("none", "L1", "L2"), {"l1": "L1", "l2": "L2"}),
    "regularizationRate": ("float", 0.0, 10.0),
    "problem": ("choice", ("classification", "regression")),
    "seed": ("seed",),
    "seeds": ("int", 1, LIMITS["seeds"]),
    "optimizer": ("choice", ("sgd", "adam")),
    "loss": ("choice", ("mse", "bce")),
    "compare": ("compare",),
    "init": ("choice", ("glorot", "gaussian", "critical")),
    "sigmaW2": ("float", 0.01, 100.0),
    "sigmaB2": ("float", 0.0, 10.0),
    **{f: ("bool",) for f in ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY", "showTestData", "discretize", "initZero")},
}


def _parser(rule: tuple):
    kind = rule[0]
    if kind in ("int", "float"):
        return lambda v: _number(v, int if kind == "int" else float, rule[1], rule[2])
    if kind == "choice":
        return lambda v: _choice(v, rule[1], rule[2] if len(rule) > 2 else None)
    if kind == "compare":
        return lambda v: "none" if str(v) in ("none", "") else _activation(v)
    return {"activation": _activation, "shape": _shape, "seed": _seed, "bool": _bool}[kind]


_PARSERS = {key: _parser(rule) for key, rule in _RULES.items()}


def schema() -> dict[str, Any]:
    """The rules of ``parse`` as data (JSON-able): each key's kind, range or choices and default
    (as a link writes it), the limits, the activations' names and aliases. The static page's
    settings follow it."""
    defaults = Settings().to_hash()
    keys = {}
    for key, rule in _RULES.items():
        entry: dict[str, Any] = {"kind": rule[0], "default": defaults[key]}
        if rule[0] in ("int", "float"):
            entry.update(lo=rule[1], hi=rule[2])
        elif rule[0] == "choice":
            entry.update(choices=list(rule[1]), aliases=dict(rule[2]) if len(rule) > 2 else {})
        keys[key] = entry
    aliases = {a: activations.resolve(a) for a in activations.names(include_aliases=True)}
    return {"keys": keys, "limits": dict(LIMITS), "features": list(FEATURES), "seed_block": SEED_BLOCK,
            "activations": list(_activation_names()), "activation_aliases": aliases}


def parse(values: dict[str, Any], base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from URL-hash keys over ``base`` (default: the defaults), and the notices.

    Every bad value falls back to the default and gets a notice naming the key, what was
    expected and what arrived; unknown keys are ignored (TensorFlow Playground's own extra
    keys such as ``collectStats`` or ``cosX`` included).
    """
    if not isinstance(values, dict):
        raise ValueError(f"settings must be an object of URL-hash keys, got {type(values).__name__}")
    base = base or Settings()
    defaults = Settings()
    changes: dict[str, Any] = {}
    notices: list[str] = []
    for key, raw in values.items():
        if key not in _PARSERS:
            continue
        try:
            changes[key] = _PARSERS[key](raw)
        except ValueError as e:
            shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "…"
            default = getattr(defaults, key)
            default = ",".join(map(str, default)) if isinstance(default, tuple) else default
            notices.append(f"{key}={shown}: {e}; using the default {default!r}")
            changes[key] = getattr(defaults, key)
    settings = replace(base, **changes)
    if not settings.features:
        notices.append("no input feature selected: using x₁ and x₂")
        settings = replace(settings, x=True, y=True)
    if settings.problem == "regression" and settings.loss == "bce":
        notices.append("cross-entropy needs two classes: regression uses mse")
        settings = replace(settings, loss="mse")
    cap = max_seeds(settings)
    if settings.seeds > cap:
        notices.append(f"seeds={settings.seeds}: at most {cap} seeds of this network fit the memory cap; using {cap}")
        settings = replace(settings, seeds=cap)
    return settings, notices


KEYS = tuple(f.name for f in fields(Settings))
