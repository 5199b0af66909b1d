"""``actlab dynamics``: linear map, nonlinear learning — the deep-linear dynamics of Saxe et al.
(2014) and the trainability of the tiny XOR nets (Kolen & Pollack 1990; Sprinkhuizen-Kuyper &
Boers 1996; the article's 2-4-1 ReLU failures), in one result.

Three presets of the same measurements: "full" (the command's: ≥ 10⁵ XOR nets), "report"
(``actlab demo`` and ``actlab dynamics --quick``: fewer seeds and steps) and "glance"
(``actlab demo --quick``: fewer settings still).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .._jsonsafe import finite as json_finite
from .deep_linear import SaxeConfig, run_depth_sweep, run_saxe
from .xor_trainability import TrainabilityConfig, relu_failures, run_init_grid, skip_comparison

__all__ = ["DynamicsConfig", "DynamicsResult", "run_dynamics", "SECTIONS", "PRESETS"]

SECTIONS = ("saxe", "depth", "xor_init_scale", "relu_failures")  # in the order they run
PRESETS = ("full", "report", "glance")


@dataclass(frozen=True)
class DynamicsConfig:
    preset: str = "full"  # "full", "report" (fewer seeds and steps) or "glance" (fewer settings still)
    seed: int = 0
    saxe: SaxeConfig | None = None  # None: the preset's
    xor: TrainabilityConfig | None = None  # None: the preset's

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(map(repr, PRESETS))}, got {self.preset!r}")

    def saxe_config(self) -> SaxeConfig:
        if self.saxe is not None:
            return self.saxe
        if self.preset == "full":
            return SaxeConfig(seed=self.seed)
        if self.preset == "report":  # λ doubled (τ = 100 steps): 2,000 steps learn every mode
            return SaxeConfig(seed=self.seed, lr=0.01, n_steps=2000, checkpoint_every=25, depths=(1, 2, 4),
                              depth_seeds=8, depth_max_steps=2000)
        # λ four times (τ = 50 steps): 1,000 steps
        return SaxeConfig(seed=self.seed, lr=0.02, n_steps=1000, checkpoint_every=25, depths=(1, 2), depth_seeds=4,
                          depth_max_steps=1000)

    def xor_config(self) -> TrainabilityConfig:
        if self.xor is not None:
            return self.xor
        if self.preset == "full":
            return TrainabilityConfig(seed=self.seed)
        if self.preset == "report":  # 200 seeds a setting and half the step budget
            return TrainabilityConfig(seed=self.seed, n_seeds=120, n_steps=2000, relu_seeds=600)
        return TrainabilityConfig(seed=self.seed, ranges=(0.5, 2.0, 8.0), n_seeds=40, n_steps=600, relu_seeds=200)

    def to_dict(self) -> dict:
        return {"preset": self.preset, "seed": self.seed, "saxe": self.saxe_config().to_dict(),
                "xor": self.xor_config().to_dict()}


@dataclass(frozen=True)
class DynamicsResult:
    config: DynamicsConfig
    saxe: dict  # run_saxe's result, with "depth": run_depth_sweep's rows
    xor_init_scale: list  # run_init_grid's rows
    xor_skip: list  # skip_comparison of those rows
    relu_failures: dict
    seconds: dict = field(default_factory=dict)  # per section

    def to_dict(self) -> dict:
        d = {"config": self.config.to_dict(), "saxe": self.saxe, "xor_init_scale": self.xor_init_scale,
             "xor_skip": self.xor_skip, "relu_failures": self.relu_failures, "seconds": self.seconds,
             "n_xor_nets": self.config.xor_config().n_nets + self.relu_failures["n_seeds"]}
        return json_finite(d)

    def _repr_html_(self) -> str:
        from .._html import dynamics_html

        return dynamics_html(self)


def run_dynamics(config: DynamicsConfig = DynamicsConfig(),
                 progress: Callable[[str, str, float], None] | None = None) -> DynamicsResult:
    """Every section of SECTIONS; ``progress(section, "start" | "done", seconds)``."""
    progress = progress or (lambda name, state, seconds: None)
    seconds: dict[str, float] = {}

    def timed(name: str, fn):
        progress(name, "start", 0.0)
        t0 = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - t0
        progress(name, "done", seconds[name])
        return out

    sc, xc = config.saxe_config(), config.xor_config()
    saxe = timed("saxe", lambda: run_saxe(sc))
    saxe["depth"] = timed("depth", lambda: run_depth_sweep(sc))
    grid = timed("xor_init_scale", lambda: run_init_grid(xc))
    relu = timed("relu_failures", lambda: relu_failures(xc.relu_seeds, xc.seed))
    return DynamicsResult(config=config, saxe=saxe, xor_init_scale=grid, xor_skip=skip_comparison(grid),
                          relu_failures=relu, seconds=seconds)
