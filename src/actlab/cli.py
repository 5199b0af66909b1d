"""The ``actlab`` command: parse, call one library function, print. No logic lives here."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from . import activations
from ._cli_analysis import _add_audit, _add_fold, _add_hidden
from ._cli_lab import _add_dynamics, _add_regions
from ._cli_sweep import _add_sweep
from ._cli_theory import _add_kernels, _add_signal
from ._sections import SECTIONS, TITLES
from ._cli_args import (
    _activation,
    _activation_list,
    _console,
    _folder,
    _nonneg_int,
    _num,
    _port,
    _positive_float,
    _positive_int,
    _widths,
)

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


# ---------------------------------------------------------------------------- demo


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="reproduce the whole article into one HTML report (the main job)",
        description=(
            "Reproduce the article — and what goes beyond it — into one report, OUT/index.html (readable offline), with "
            "OUT/results.json (every number the page shows) and the figures. Its sections: "
            + "; ".join(f"{i}. {TITLES[name]} ({name})" for i, name in enumerate(SECTIONS, 1))
            + ". The report appears only when complete."
        ),
        epilog="examples:\n  actlab demo\n  actlab demo --quick --out /tmp/report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=_folder, default="actlab-report", help="report folder (default actlab-report)")
    p.add_argument("--seeds", type=_positive_int, default=None, help="XOR seeds per activation (default 1000; 200 with --quick)")
    p.add_argument("--quick", action="store_true", help="fewer seeds, activations and frames, no OLS on conv: about 15 s")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    import time

    from rich.table import Table

    from .report import SECTIONS, DemoConfig, run_demo

    config = DemoConfig(out=args.out, n_seeds=args.seeds, quick=args.quick, seed=args.seed)
    t0 = time.perf_counter()
    n = len(SECTIONS)
    if sys.stderr.isatty():  # a live display on a terminal
        from rich.progress import Progress, TimeElapsedColumn

        with Progress(*Progress.get_default_columns(), TimeElapsedColumn(), console=_console(stderr=True), transient=True) as progress:
            task = progress.add_task("demo", total=n)

            def step(name: str, state: str, seconds: float) -> None:
                i = SECTIONS.index(name)
                progress.update(task, completed=i + (state == "done"), description=f"demo {i + 1}/{n}: {name}")

            r = run_demo(config, progress=step)
    else:  # a log: one plain line per step, with the elapsed time

        def step(name: str, state: str, seconds: float) -> None:
            i, total = SECTIONS.index(name) + 1, time.perf_counter() - t0
            what = "…" if state == "start" else f"done in {seconds:.1f} s"
            sys.stderr.write(f"demo {i}/{n}: {name} {what} ({total:.1f} s elapsed)\n")
            sys.stderr.flush()

        r = run_demo(config, progress=step)
    table = Table(title=f"actlab demo — report in {args.out}/index.html")
    table.add_column("what")
    table.add_column("measured", justify="right")
    table.add_column("seconds", justify="right")
    lin = [c for c in r["collapse"] if c["activation"] == "linear"]
    table.add_row("univariate chains learned", f"{len(r['univariate']['models'])} in {r['univariate']['steps']} steps", f"{r['seconds']['univariate']:.1f}")
    table.add_row("affine nets collapsed exactly", f"{sum(c['affine'] for c in lin)}/{len(lin)}, max err {max(c['collapse_max_rel_error'] for c in lin):.1e}", f"{r['seconds']['collapse']:.1f}")
    table.add_row("derivation 2-2-1", r["derivation"]["final"], f"{r['seconds']['derivation']:.1f}")
    xa = r["xor"]["activations"]
    table.add_row(f"XOR solved ({r['xor']['config']['n_seeds']:,} seeds)", ", ".join(f"{a} {100 * xa[a]['success_rate']:.1f}%" for a in ("linear", "sigmoid", "relu", "tanh")), f"{r['seconds']['xor']:.1f}")
    relu = next((x for x in r["geometry"]["xor"] if x["activation"] == "relu"), None)
    if relu is not None:
        table.add_row("ReLU XOR nets' linear regions", f"solved {_num(relu['regions_solved']['median'], '.0f')}, failed "
                      f"{_num(relu['regions_failed']['median'], '.0f')} (median)", f"{r['seconds']['geometry']:.1f}")
    saxe = r["dynamics"]["saxe"]
    table.add_row("deep-linear modes vs Saxe et al.", f"R² ≥ {min(m['r2'] for m in saxe['modes']):.4f}, every checkpoint one linear map",
                  f"{r['seconds']['dynamics']:.1f}")
    cat = r["hidden"]["catalogue"]
    table.add_row("hidden nonlinearity catalogue", f"{sum(c['agrees'] for c in cat)}/{len(cat)} verdicts as expected", f"{r['seconds']['hidden']:.1f}")
    sg = r["signal"]
    worst = max(max(g["measured"] / g["predicted"], g["predicted"] / g["measured"]) for g in sg["gradients"])
    table.add_row("signal through depth", f"6 ξ_c right in {sg['phase_diagram']['agreement']:.0%} of cells; gradients "
                  f"within {worst:.2f}× of χ₁^(L−l)", f"{r['seconds']['signal']:.1f}")
    kr = r["kernels"]
    table.add_row("infinite width: real nets → NNGP", ", ".join(f"{c['activation']} {c['rel_error']:.3f}" for c in kr["convergence"]
                                                                if c["width"] == max(x["width"] for x in kr["convergence"]))
                  + f" at width {max(x['width'] for x in kr['convergence'])}", f"{r['seconds']['kernels']:.1f}")
    table.add_row("audit / fold", f"first nonlinear: {r['audit']['first_nonlinear']}; fold {r['fold']['speedup']:.0f}× faster", f"{r['seconds']['audit']:.1f}")
    _console().print(table)
    return 0


# ---------------------------------------------------------------------------- collapse


def _add_collapse(sub) -> None:
    p = sub.add_parser(
        "collapse",
        help="random dense/conv/rnn networks: the article's OLS fit beside the exact collapse",
        description=(
            "Draw the article's random networks (E2 dense, E3 conv, E4 rnn) and compare the article's "
            "method (sklearn LinearRegression on the article's sample counts, r² and MSE on 1,024 test rows) "
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
    p.add_argument("--no-ols", action="store_true", help="skip the article's OLS baseline (it takes seconds on conv nets)")
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
    table = Table(title=f"random networks, activation {args.activation}: the article's OLS vs exact collapse")
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


# ---------------------------------------------------------------------------- xor


def _add_xor(sub) -> None:
    from . import datasets

    p = sub.add_parser(
        "xor",
        help="XOR (or a 2-D dataset) across activations over many seeds: success rates with intervals",
        description=(
            "Train the article's 2-4-1 network (linear output, MSE, Adam 0.01, ≤1,000 full-batch steps, glorot "
            "weights, zero biases) for every seed at once, per activation, and report the success rate with a "
            "95% Wilson interval — success: every XOR output within 0.4 of its target (other datasets: "
            "training accuracy ≥ 0.9) — steps to loss 1e-3, final-loss quantiles and diverged seeds. "
            "A given seed starts from the same weights whatever the activation, so rows are paired."
        ),
        epilog=(
            "examples:\n  actlab xor --seeds 2000\n  actlab xor --activations all --seeds 500 --out xor-all --gif\n"
            "  actlab xor --dataset spiral --hidden 16,16 --steps 3000 --activations relu,tanh --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--activations", type=_activation_list, default=("linear", "sigmoid", "relu", "tanh"),
                   help="comma-separated registry names, 'maxout', or 'all' (default linear,sigmoid,relu,tanh)")
    p.add_argument("--seeds", type=_positive_int, default=1000, help="number of seeds per activation (default 1000)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="first seed; also seeds the dataset (default 0)")
    p.add_argument("--hidden", type=_widths, default=(4,), help="hidden widths, e.g. 4 or 8,8 (default 4)")
    p.add_argument("--steps", type=_nonneg_int, default=1000, help="maximum training steps (default 1000)")
    p.add_argument("--lr", type=_positive_float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--loss", choices=["mse", "bce"], default="mse")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="minibatch size (default: full batch)")
    p.add_argument("--dataset", choices=datasets.names(), default="xor")
    p.add_argument("--n-points", type=_positive_int, default=200, help="points of the dataset (ignored for xor)")
    p.add_argument("--noise", type=float, default=0.0, help="coordinate noise of the dataset (default 0)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    p.add_argument("--out", type=_folder, default=None, help="folder for results.json and the figures (default actlab-xor; none with --json)")
    p.add_argument("--gif", action="store_true", help="also write the animations (3-D scatter for XOR, boundary during training)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_xor)


def _cmd_xor(args) -> int:
    from .experiments.xor import XorConfig, run_xor

    config = XorConfig(
        activations=args.activations, n_seeds=args.seeds, seed=args.seed, hidden=args.hidden, n_steps=args.steps,
        lr=args.lr, optimizer=args.optimizer, loss=args.loss, batch_size=args.batch_size, dataset=args.dataset,
        n_points=args.n_points, noise=args.noise, device=args.device,
    )
    out_dir = args.out if (args.out or args.json) else "actlab-xor"
    if args.json:
        result = run_xor(config)
    else:
        from rich.progress import Progress

        with Progress(console=_console(stderr=True), transient=True) as progress:
            task = progress.add_task("training", total=len(config.activations) * max(config.n_steps, 1))
            done: dict[str, int] = {}

            def on_progress(act: str, steps: int) -> None:
                done[act] = steps
                progress.update(task, completed=sum(done.values()), description=f"training {act}")

            result = run_xor(config, on_progress=on_progress)
    written = []
    if out_dir:
        from .viz import write_xor_outputs

        written = write_xor_outputs(result, out_dir, gifs=args.gif)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    from rich.table import Table

    cfg = result.config
    table = Table(title=f"{cfg.dataset}: {cfg.n_seeds:,} seeds per activation, hidden {list(cfg.hidden)}, "
                        f"{cfg.optimizer} lr {cfg.lr}, ≤{cfg.n_steps} steps")
    for col in ("activation", "solved", "95% CI", "final MSE median", "steps to 1e-3: median (q25–q75)", "diverged", "seconds"):
        table.add_column(col, justify="left" if col == "activation" else "right")
    for name, st in result.activations.items():
        h = st.steps_to_hit
        steps = "never" if h["median"] is None else f"{h['median']:.0f} ({h['q25']:.0f}–{h['q75']:.0f})"
        table.add_row(
            name, f"{100 * st.success_rate:.1f}%", f"{100 * st.success_ci[0]:.1f}–{100 * st.success_ci[1]:.1f}%",
            _num(st.final_mse_median, ".4g"), steps, str(st.diverged), f"{st.seconds:.2f}",
        )
    console = _console()
    console.print(table)
    for name, st in result.activations.items():
        if st.collapsed is not None:
            w = ", ".join(f"{v:+.2e}" for v in st.collapsed["weight"])
            console.print(f"{name}: a trained net collapses to w = [{w}], b = {st.collapsed['bias']:.4f} "
                          f"(the best affine fit to XOR: w = 0, b = 0.5, MSE 0.25)")
    if written:
        console.print(f"wrote {len(written)} files to {out_dir}/")
    return 0


# ---------------------------------------------------------------------------- univariate


def _add_univariate(sub) -> None:
    p = sub.add_parser(
        "univariate",
        help="E1: chains of univariate affine maps are one line; gradient descent finds it (3×3 GIF)",
        description=(
            "Draw nine random chains x → βᵢx + bᵢ (n ~ U{1..5} maps, βᵢ, bᵢ ~ U(−3, 3)), collapse each exactly "
            "(β' = ∏βᵢ, b' = Σᵢ bᵢ ∏_{j>i} βⱼ, checked against the chain), and train a line ŷ = βx + b on each by "
            "gradient descent (lr 0.01, 32 fresh x ~ N(0, 1) per step, MSE) until every cost < 1e-2 or 10,000 "
            "steps. Writes univariate.gif (a frame every 5 steps, the article's 3×3 grid) and results.json."
        ),
        epilog="examples:\n  actlab univariate --out uni\n  actlab univariate --seed 3 --json --no-gif",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=_folder, default=None, help="folder for univariate.gif and results.json (default actlab-univariate; none with --json)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="draws the chains, the learners and the data (default 0)")
    p.add_argument("--no-gif", action="store_true", help="skip the animation")
    p.add_argument("--json", action="store_true", help="print the results as JSON (files only with an explicit --out)")
    p.set_defaults(func=_cmd_univariate)


def _cmd_univariate(args) -> int:
    from .experiments.univariate import UnivariateConfig, run_univariate

    result = run_univariate(UnivariateConfig(seed=args.seed))
    out_dir = args.out or (None if args.json else "actlab-univariate")  # --json alone writes nothing
    if out_dir:
        from .viz import save_json, univariate_gif

        save_json(result.to_dict(full=True), f"{out_dir}/results.json")
        if not args.no_gif:
            with _console(stderr=True).status("rendering univariate.gif"):
                univariate_gif(result, f"{out_dir}/univariate.gif")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"E1: nine random chains, trained {result.steps} steps ({'every cost < 1e-2' if result.converged else 'not converged'})")
    for col in ("model", "n maps", "collapsed β'", "collapsed b'", "learned β", "learned b", "steps to cost < 1e-2", "chain vs collapse"):
        table.add_column(col, justify="right")
    for i, m in enumerate(result.models, 1):
        table.add_row(
            str(i), str(m["n"]), f"{m['collapsed']['beta']:.4f}", f"{m['collapsed']['b']:.4f}",
            f"{m['learned']['beta']:.4f}", f"{m['learned']['b']:.4f}", str(m["steps_to_tol"]), f"{m['chain_error']:.1e}",
        )
    console = _console()
    console.print(table)
    if out_dir:
        console.print(f"wrote {out_dir}/results.json" + ("" if args.no_gif else f" and {out_dir}/univariate.gif"))
    return 0


# ---------------------------------------------------------------------------- derive


def _add_derive(sub) -> None:
    p = sub.add_parser(
        "derive",
        help="generate the article's algebra for any small network: y = W'x + b'",
        description=(
            "Write out a network's layer equations, substitute, expand, group like terms and rename them into "
            "y = W'x + b', as the article does by hand for 2-2-1 — for any small widths. With a nonlinear "
            "activation the derivation shows where it stops: σ stays wrapped around an affine form. "
            "--layers 1,1,1,1 gives the univariate chain of E1."
        ),
        epilog=(
            "examples:\n  actlab derive --layers 2,2,1\n  actlab derive --layers 1,1,1,1 --format latex\n"
            "  actlab derive --layers 2,2,1 --activation relu --format png --out relu.png"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--layers", type=_widths, default=(2, 2, 1), help="widths from input to output (default 2,2,1)")
    p.add_argument("--activation", type=_activation, default="linear", help="hidden activation (default linear)")
    p.add_argument("--format", choices=["md", "latex", "png", "svg"], default="md", help="output format (default md)")
    p.add_argument("--out", default=None, help="file to write (default derive.png/.svg for images; md and latex print otherwise)")
    p.add_argument("--max-terms", type=_positive_int, default=None, help="refuse widths whose expansion exceeds this many terms (default 20,000)")
    p.set_defaults(func=_cmd_derive)


def _cmd_derive(args) -> int:
    from .symbolic import MAX_TERMS, derive

    if len(args.layers) < 2:
        raise ValueError(f"--layers needs at least an input and an output width, got {','.join(map(str, args.layers))}")
    d = derive(args.layers, args.activation, max_terms=args.max_terms or MAX_TERMS)
    if args.format in ("png", "svg"):
        from .viz import render_derivation

        out = args.out or f"derive.{args.format}"
        render_derivation(d, out)
        print(f"wrote {out}")
        return 0
    text = d.to_markdown() if args.format == "md" else d.to_latex()
    if args.out:
        from .viz import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


# ---------------------------------------------------------------------------- activations


def _add_activations(sub) -> None:
    p = sub.add_parser(
        "activations",
        help="list the activation registry",
        description="Every activation actlab knows, with its formula and aliases. Use the names with --activation.",
        epilog="examples:\n  actlab activations\n  actlab activations --json\n  actlab xor --activations gelu,silu,maxout",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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


# ---------------------------------------------------------------------------- play


def _add_play(sub) -> None:
    p = sub.add_parser(
        "play",
        help="the interactive playground: many seeds at once, live, in your browser",
        description=(
            "Start a local web server and open the playground: TensorFlow Playground's lesson (datasets, features, "
            "layers, activation, learning rate, regularisation, heatmaps) trained for 1–1,000 seeds at once, with the "
            "live success rate and its 95% interval, loss quartiles over seeds, two activations compared on the same "
            "seeds, the exact collapsed map when every layer is linear, your own points or CSV, and export. "
            "TensorFlow Playground links work: its URL-hash keys are read as it writes them. Works offline."
        ),
        epilog=(
            "examples:\n  actlab play\n  actlab play --port 8001 --no-browser\n"
            "  then open http://127.0.0.1:8000/#activation=linear&dataset=xor&seeds=100\n"
            "  actlab play --static site/play      # the static page: one index.html that trains in any browser\n\n"
            "The static page needs no server and no Python once written: open DIR/index.html from disk or put DIR on any\n"
            "static host. It trains the same seeds with the same C step, compiled to WebAssembly (a wheel carries it;\n"
            "a source checkout compiles it with clang, lld, wasi-libc and clang's wasm32 builtins); what needs Python (the audit, the regions,\n"
            "the hidden space and Signal views, .pt2 export, other activations) says so on the page."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only; others warn)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--no-token", action="store_true",
                   help="off loopback, do not require the token in the URL (anyone who reaches the port can use it; warns)")
    p.add_argument("--device", default="auto", help="where to train: cpu, cuda or auto (default: the GPU when there is one)")
    p.add_argument("--static", metavar="DIR", type=_folder, default=None,
                   help="write the static playground to DIR/index.html (no server is started)")
    p.set_defaults(func=_cmd_play)


def _cmd_play(args) -> int:
    if args.static is not None:
        from .play.static_site import write

        try:
            path = write(args.static)
        except RuntimeError as exc:  # no WebAssembly build at hand: the toolchain is named
            sys.stderr.write(f"actlab play: error: {exc}\n")
            return 1
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB): open it in a browser, or serve {path.parent} from any static host")
        return 0
    from .play.server import serve
    from .train import resolve_device

    serve(host=args.host, port=args.port, open_browser=not args.no_browser, device=str(resolve_device(args.device)),
          no_token=args.no_token)
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
    _add_demo(sub)
    _add_collapse(sub)
    _add_xor(sub)
    _add_univariate(sub)
    _add_derive(sub)
    _add_dynamics(sub)
    _add_regions(sub)
    _add_kernels(sub)
    _add_signal(sub)
    _add_sweep(sub)
    _add_audit(sub)
    _add_fold(sub)
    _add_hidden(sub)
    _add_activations(sub)
    _add_play(sub)
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
    except BrokenPipeError:  # `actlab … | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a path the user gave: exists as a file, unwritable, full disk
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"actlab {args.command}: error: {exc.strerror or exc}{where}\n")
        return EXIT_USAGE
    except Exception as exc:  # a failure of actlab's own (or of torch): say what, exit 1, no traceback
        import os

        if os.environ.get("ACTLAB_TRACEBACK"):
            raise
        sys.stderr.write(f"actlab {args.command}: failed: {type(exc).__name__}: {exc} "
                         "(ACTLAB_TRACEBACK=1 shows where; nothing was written)\n")
        return 1


def run() -> None:
    """The ``actlab`` console script: ``main``, then exit without tearing torch down.

    Every file is written and renamed before ``main`` returns; what interpreter shutdown would
    still do is free torch's memory and unload its libraries — about 0.35 s for nothing, on
    every command. Output is flushed first; ``main`` itself (tests, scripts) returns normally."""
    import os

    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, --version, a usage error (already printed)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader left, or the stream is closed
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
