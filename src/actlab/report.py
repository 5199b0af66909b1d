"""``actlab demo``: reproduce the whole article, with measured numbers, into one HTML report.

The run computes every experiment (experiments/, analysis/), draws the figures (viz/),
then writes ``index.html`` (readable offline, images beside it), ``results.json`` (every
number the page shows) and the figures into a temporary folder beside the target, and moves
it into place only when complete: an interrupted run leaves nothing half-written, and an
existing report is replaced only by a complete one.

Every number on the page is rendered by the templates' ``num`` from a key into results.json, as
``<span class="num" data-key=KEY data-fmt=FMT>``; ``format_value`` is the one formatter, so a
test can check each shown number against the JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ._jsonsafe import finite
from ._sections import SECTIONS

__all__ = ["DemoConfig", "run_demo", "format_value", "lookup"]


@dataclass(frozen=True)
class DemoConfig:
    out: str = "actlab-report"  # the report's folder
    n_seeds: int | None = None  # XOR seeds per activation (default 1000; 200 with quick)
    quick: bool = False  # a smaller run (fewer seeds, activations, frames) for a first look
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_seeds is not None and self.n_seeds < 1:
            raise ValueError(f"n_seeds must be ≥ 1, got {self.n_seeds}")
        if not str(self.out).strip():
            raise ValueError("out must be a folder name")

    @property
    def xor_seeds(self) -> int:
        return self.n_seeds or (200 if self.quick else 1000)


def lookup(results: dict, key: str) -> Any:
    """results["a"]["b"][0]... for the dotted key "a.b.0"."""
    cur: Any = results
    for part in key.split("."):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def format_value(value: Any, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == "pct":
        return f"{100 * value:.1f}%"
    if fmt == "int":
        return f"{int(value):,}"
    if fmt == "str":
        return str(value)
    return format(value, fmt)


# ------------------------------------------------------------------------------- compute


def _compute(config: DemoConfig, folder: Path, progress: Callable[[str, str, float], None]) -> dict:
    """Run every experiment, write the figures into ``folder``, return the results dict: each of
    ``SECTIONS`` in turn, timed, announced to ``progress`` as it starts and ends."""
    from .experiments.collapse import ARTICLE_R2

    steps = {"univariate": _univariate, "collapse": _collapse, "derivation": _derivation, "xor": _xor,
             "geometry": _geometry, "dynamics": _dynamics, "signal": _signal, "kernels": _kernels,
             "hidden": _hidden, "audit": _audit}
    results = {"config": asdict(config), "article": {"r2": ARTICLE_R2}}
    seconds = {}
    for name in SECTIONS:
        progress(name, "start", 0.0)
        t0 = time.perf_counter()
        out = steps[name](config, folder)
        results.update(out if name == "audit" else {name: out})  # the audit section reports its fold beside it
        seconds[name] = time.perf_counter() - t0
        progress(name, "done", seconds[name])
    results["seconds"] = seconds
    return results


def _univariate(config: DemoConfig, folder: Path) -> dict:
    """The article's E1: random chains of univariate maps, collapsed and learned, and its GIF."""
    from . import viz
    from .experiments.univariate import UnivariateConfig, run_univariate

    uni = run_univariate(UnivariateConfig(seed=config.seed))
    viz.univariate_gif(uni, folder / "univariate.gif", max_frames=6 if config.quick else 48)
    return uni.to_dict()


def _collapse(config: DemoConfig, folder: Path) -> list:
    """The article's random dense, conv and rnn nets: its OLS beside the exact collapse, and ReLU rows."""
    from . import nets
    from .experiments.collapse import run_collapse

    quick, rows = config.quick, []
    for arch in nets.ARCHS:
        # the article's OLS once per architecture, as the article ran it (--quick: on dense only; conv's
        # takes seconds); the other draws and the relu rows are judged by the exact collapse alone
        for s in range(config.seed, config.seed + (1 if quick else 3)):
            ols = s == config.seed and (arch == "dense" or not quick)
            rows.append(run_collapse(arch, s, "linear", ols=ols).to_dict())
        if arch == "dense" or not quick:  # --quick: one ReLU row shows the other verdict
            rows.append(run_collapse(arch, config.seed, "relu", ols=False).to_dict())
    return rows


def _derivation(config: DemoConfig, folder: Path) -> dict:
    """The 2-2-1 algebra, generated, and its images."""
    from . import symbolic, viz

    d = symbolic.derive((2, 2, 1))
    viz.render_derivation(d, folder / "derivation_linear.png")
    if not config.quick:  # --quick: the identity's derivation alone (each image is a second of mathtext)
        viz.render_derivation(symbolic.derive((2, 2, 1), "relu"), folder / "derivation_relu.png")
    return {"layers": [2, 2, 1], "final": d.steps[-1].equations[-1], "markdown": d.to_markdown()}


def _hidden(config: DemoConfig, folder: Path) -> dict:
    """The hidden-nonlinearity catalogue and its demonstrations."""
    from .analysis import hidden

    quick = config.quick
    return {
        "catalogue": hidden.run_catalogue(seed=config.seed),
        "maxout_xor": hidden.maxout_xor(),
        "square_not_universal": hidden.square_not_universal(
            widths=(2, 8) if quick else (2, 8, 32), n_seeds=3 if quick else 8, n_steps=600 if quick else 2000
        ),
        "flush_to_zero": hidden.flush_to_zero_demo(config.seed),
    }


def _audit(config: DemoConfig, folder: Path) -> dict:
    """A small conv net audited, and a deep affine dense net folded and timed: {"audit", "fold"}."""
    import torch

    from . import nets
    from .analysis.audit import audit
    from .analysis.fold import fold_with_report

    torch.manual_seed(config.seed)
    example = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.AvgPool2d(2), torch.nn.Conv2d(8, 8, 3),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 16), torch.nn.Dropout(0.2),
        torch.nn.Linear(16, 4),
    ).eval()
    x = torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(config.seed))
    rep = audit(example, x, seed=config.seed)
    dense = nets.build(nets.spec_from_sizes("dense", in_shape=(128,), out=128, hidden=(1024,) * 10))
    folded, frep = fold_with_report(dense, torch.rand(8, 128))
    xb = torch.rand(256, 128)
    with torch.no_grad():
        t_orig = min(_timeit(lambda: dense(xb)) for _ in range(3))
        t_fold = min(_timeit(lambda: folded(xb)) for _ in range(3))
    return {"audit": {"model": str(example), **rep.to_dict()},
            "fold": {**frep.to_dict(), "original_ms": 1e3 * t_orig, "folded_ms": 1e3 * t_fold, "speedup": t_orig / t_fold,
                     "batch": 256}}


def _xor(config: DemoConfig, folder: Path) -> dict:
    """The XOR lab over every activation (the classic four with quick), and its figures."""
    from . import activations, viz
    from .experiments.xor import XorConfig, XorResult, run_xor
    from .train import MAXOUT

    quick = config.quick
    acts = ("linear", "sigmoid", "relu", "tanh") if quick else (*activations.names(), MAXOUT)
    xor = run_xor(XorConfig(activations=acts, n_seeds=config.xor_seeds, seed=config.seed))
    viz.plot_success(xor, folder / "xor_success.png")
    viz.plot_loss_curves(xor, folder / "xor_loss_curves.png")
    classic = XorConfig(activations=("linear", "sigmoid", "relu", "tanh"), n_seeds=config.xor_seeds, seed=config.seed)
    subset = XorResult(classic, xor.X, xor.y, {k: xor.activations[k] for k in classic.activations})
    viz.plot_boundaries(subset, folder / "xor_boundaries.png")
    for name in ("relu",) if quick else ("linear", "sigmoid", "relu"):
        viz.xor_3d_gif(xor, name, folder / f"nn_xor_{name}.gif", max_frames=6 if quick else 48)
    return xor.to_dict()


def _geometry(config: DemoConfig, folder: Path) -> dict:
    """What the activation does: the "report" preset of ``actlab regions`` ("glance" with quick)."""
    from dataclasses import replace

    from . import viz
    from .experiments.geometry import GEOMETRY_PRESETS, run_geometry

    result = run_geometry(replace(GEOMETRY_PRESETS["glance" if config.quick else "report"], seed=config.seed))
    viz.write_geometry_figures(result, folder)
    return result


def _dynamics(config: DemoConfig, folder: Path) -> dict:
    """Linear map, nonlinear learning: the "report" preset of ``actlab dynamics`` ("glance" with quick)."""
    from . import viz
    from .experiments.dynamics import DynamicsConfig, run_dynamics

    result = run_dynamics(DynamicsConfig(preset="glance" if config.quick else "report", seed=config.seed)).to_dict()
    viz.write_dynamics_figures(result, folder)
    return result


def _signal(config: DemoConfig, folder: Path) -> dict:
    """Signal through depth: the "report" preset of ``actlab signal`` ("glance" with quick)."""
    from .experiments.signal import preset, run_signal
    from .viz.signal import write_signal_figures

    result = run_signal(preset("glance" if config.quick else "report", seed=config.seed)).to_dict()
    write_signal_figures(result, folder)
    return result


def _kernels(config: DemoConfig, folder: Path) -> dict:
    """Infinite width: the "report" preset of ``actlab kernels`` ("glance" with quick)."""
    from dataclasses import replace

    from .experiments.kernels import KERNELS_PRESETS, run_kernels
    from .viz.kernels import write_kernels_figures

    result = run_kernels(replace(KERNELS_PRESETS["glance" if config.quick else "report"], seed=config.seed)).to_dict()
    write_kernels_figures(result, folder)
    return result


def _timeit(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------- the page


TEMPLATES = Path(__file__).with_name("templates")  # report/page.html and a template per section, report.css


def _html(r: dict) -> str:
    """The page, rendered from the templates: every number through ``num`` (a span that names
    its key in results.json and its format), every figure through ``img``."""
    import jinja2
    from markupsafe import Markup

    def num(key: str, fmt: str = ".3g") -> Markup:
        text = format_value(lookup(r, key), fmt)
        return Markup('<span class="num" data-key="{}" data-fmt="{}">{}</span>').format(key, fmt, text)

    def img(src: str, alt: str) -> Markup:
        return Markup('<figure><img src="{}" alt="{}"><figcaption>{}</figcaption></figure>').format(src, alt, alt)

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env.get_template("report/page.html").render(r=r, num=num, img=img, trainability=_trainability_rows(r))


def _trainability_rows(r: dict) -> list[dict]:
    """Per (net, activation) of the XOR trainability grid: the rows (indices into
    dynamics.xor_init_scale) of its smallest range, its best and its largest."""
    rows, out = r["dynamics"]["xor_init_scale"], []
    for arch, act in dict.fromkeys((row["arch"], row["activation"]) for row in rows):
        idx = [i for i, row in enumerate(rows) if row["arch"] == arch and row["activation"] == act]  # ranges ascending
        out.append({"arch": arch, "activation": act, "first": idx[0], "last": idx[-1],
                    "best": max(idx, key=lambda i: rows[i]["success_rate"])})
    return out


# ------------------------------------------------------------------------------- the run




def run_demo(config: DemoConfig = DemoConfig(), progress: Callable[[str, str, float], None] | None = None) -> dict:
    """Compute, draw and write the report; returns the results dict (also results.json).

    ``progress(section, "start" | "done", seconds)`` is called as each of ``SECTIONS`` starts
    and ends (seconds: the section's own time, at "done")."""
    target = Path(config.out).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        results = finite(_compute(config, tmp, progress or (lambda name, state, seconds: None)))
        results["figures"] = sorted(os.listdir(tmp))
        (tmp / "index.html").write_text(_html(results), encoding="utf-8")
        (tmp / "results.json").write_text(json.dumps(results, indent=2, allow_nan=False), encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}-old-{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:  # KeyboardInterrupt included: leave nothing half-written
        with contextlib.suppress(Exception):
            shutil.rmtree(tmp)
        raise
    return results


