"""``actlab dynamics`` and ``actlab regions``: the other half of the answer — how a linear net
learns, and what a nonlinearity does to the plane. Parse, call, print."""

from __future__ import annotations

import argparse
import json

from ._cli_args import _activation, _console, _folder, _int_list, _nonneg_int, _num, _positive_int


def _add_dynamics(sub) -> None:
    p = sub.add_parser(
        "dynamics",
        help="linear map, nonlinear learning: deep-linear dynamics (Saxe 2014) and XOR trainability (Kolen & Pollack 1990)",
        description=(
            "Two results a network without activations leaves open, measured. (1) Saxe, McClelland & Ganguli 2014: "
            "a one-hidden-layer linear net, collapsed and certified as one linear map at every checkpoint, learns "
            "each singular mode of its task along a(t) = s·e^(2st/τ)/(e^(2st/τ) − 1 + s/a₀) — a plateau, then a "
            "jump — while a model with no hidden layer approaches s exponentially; R² per mode, half-times "
            "against (τ/2s)·ln(s/a₀ − 1), and learning time against depth for small random, scaled Gaussian and "
            "orthogonal initial weights. (2) XOR trainability: success (95% Wilson intervals) and steps to solve "
            "against the initial weight range U(−r, r) for 2-2-1, 2-3-1 and 2-1-1 with input→output connections, "
            "sigmoid and tanh (≥ 10⁵ nets by default; one batched pass per architecture), and what the article's "
            "2-4-1 ReLU failures are (final MSE 1/8, 1/6, 1/4; dead hidden units; averaged points)."
        ),
        epilog="examples:\n  actlab dynamics\n  actlab dynamics --quick --out dyn\n  actlab dynamics --seeds 500 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="the report's smaller run (about 7 s instead of about 40 s)")
    p.add_argument("--seeds", type=_positive_int, default=None,
                   help="XOR seeds per (architecture, activation, range) setting (default 2800; 200 with --quick)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="first seed of every setting; draws the tasks (default 0)")
    p.add_argument("--out", type=_folder, default=None,
                   help="folder for results.json and the figures (default actlab-dynamics; none with --json)")
    p.add_argument("--json", action="store_true", help="print the results as JSON (files only with an explicit --out)")
    p.set_defaults(func=_cmd_dynamics)


def _cmd_dynamics(args) -> int:
    from dataclasses import replace

    from .experiments.dynamics import DynamicsConfig, run_dynamics

    config = DynamicsConfig(preset="report" if args.quick else "full", seed=args.seed)
    if args.seeds is not None:
        config = replace(config, xor=replace(config.xor_config(), n_seeds=args.seeds))
    out_dir = args.out or (None if args.json else "actlab-dynamics")
    if args.json:
        result = run_dynamics(config).to_dict()
    else:
        with _console(stderr=True).status("") as status:
            def step(name: str, state: str, seconds: float) -> None:
                if state == "start":
                    status.update(f"dynamics: {name}")

            result = run_dynamics(config, progress=step).to_dict()
    if out_dir:
        from .viz import write_dynamics_outputs

        write_dynamics_outputs(result, out_dir)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    _print_dynamics(result)
    if out_dir:
        _console().print(f"wrote results.json and 4 figures to {out_dir}/")
    return 0


def _print_dynamics(r: dict) -> None:
    from rich.table import Table

    console, saxe = _console(), r["saxe"]
    t = Table(title=f"Saxe et al. 2014: one hidden layer, τ = {saxe['modes'][0]['tau']:g} steps, a₀ = {saxe['modes'][0]['a0']:g}; "
                    f"{saxe['n_checkpoints']} checkpoints collapsed, max residual {saxe['collapse_residual_max']:.1e} "
                    f"(tolerance {saxe['collapse_tolerance']:.1e})")
    for col in ("s", "R² vs analytic", "half-time measured", "predicted (τ/2s)·ln(s/a₀−1)", "best single exponential R²",
                "shallow R²"):
        t.add_column(col, justify="right")
    for m, sh in zip(saxe["modes"], saxe["shallow"]["modes"]):
        t.add_row(f"{m['s']:g}", f"{m['r2']:.5f}", _num(m["half_time_measured"], ".0f"), f"{m['half_time_predicted']:.0f}",
                  f"{m['single_exponential_r2']:.3f}", f"{sh['r2']:.5f}")
    console.print(t)
    t = Table(title="Learning time against depth (steps to learn 99 %; learning rate / number of weight layers)")
    for col in ("hidden layers", "init", "median (q25–q75)", "not learned", "initial map's singular values (median min–max)"):
        t.add_column(col, justify="left" if col == "init" else "right")
    for d in saxe["depth"]:
        steps = "—" if d["steps_median"] is None else f"{d['steps_median']:.0f} ({d['steps_q25']:.0f}–{d['steps_q75']:.0f})"
        t.add_row(str(d["depth"]), d["init"], steps, f"{d['not_reached']}/{d['n_seeds']}",
                  f"{d['initial_map_sv_min_median']:.1e}–{d['initial_map_sv_max_median']:.1e}")
    console.print(t)
    _print_xor_trainability(r, console)


def _print_xor_trainability(r: dict, console) -> None:
    from rich.table import Table

    cfg = r["config"]["xor"]
    t = Table(title=f"XOR trainability: weights and biases U(−r, r), {cfg['optimizer']} lr {cfg['lr']}, ≤ {cfg['n_steps']:,} steps, "
                    f"{cfg['n_seeds']:,} seeds per row ({r['n_xor_nets']:,} nets in all with the ReLU rows)")
    for col in ("arch", "activation", "r", "solved", "95% CI", "steps: median (q25–q75)", "failed (still descending)"):
        t.add_column(col, justify="left" if col in ("arch", "activation") else "right")
    for row in r["xor_init_scale"]:
        steps = "—" if row["steps_median"] is None else f"{row['steps_median']:.0f} ({row['steps_q25']:.0f}–{row['steps_q75']:.0f})"
        t.add_row(row["arch"], row["activation"], f"{row['range']:g}", f"{100 * row['success_rate']:.1f}%",
                  f"{100 * row['success_ci'][0]:.1f}–{100 * row['success_ci'][1]:.1f}%", steps,
                  f"{row['failed']} ({row['failed_still_descending']})")
    console.print(t)
    rel = r["relu_failures"]
    t = Table(title=f"The article's {rel['set_up']}: {rel['n_seeds']:,} seeds")
    for col in ("final", "seeds", "share", "dead units at init → end (mean)", "points averaged (most common)"):
        t.add_column(col, justify="left" if col in ("final", "points averaged (most common)") else "right")
    for c in rel["classes"]:
        top = ", ".join(f"{k or 'none'} ×{v}" for k, v in list(c["averaged"].items())[:2])
        t.add_row(c["class"] if c["class"] == "solved" else f"MSE {c['class']}", f"{c['count']:,}", f"{100 * c['share']:.1f}%",
                  f"{c['dead_init_mean']:.2f} → {c['dead_final_mean']:.2f}", top)
    console.print(t)
    console.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in r["seconds"].items()))


# ---------------------------------------------------------------------------- regions


def _add_regions(sub) -> None:
    from . import datasets

    p = sub.add_parser(
        "regions",
        help="what the activation does: exact linear regions, the hidden space, regions against depth and neurons",
        description=(
            "A piecewise-linear network cuts its input plane into convex polygons, one affine map each; actlab "
            "computes them exactly from the weights (actlab.regions). Without --layers: the measurements of the "
            "report's section — the article's 2-4-1 XOR nets (ReLU, maxout, LeakyReLU, hardtanh): regions of solved "
            "and failed seeds and how many the decision boundary crosses; Telgarsky's sawtooth (L layers of 2 ReLUs, "
            "2^L pieces) beside one layer of 2L; Hanin & Rolnick 2019's regions against neurons at initialisation "
            "(budgets split over depths, 100 seeds each) and during training; the hidden space of linear, tanh and "
            "ReLU nets on XOR. With --layers: one architecture over --seeds seeds, drawn and optionally trained "
            "--steps steps (Adam 0.01, MSE) on --dataset, its regions counted."
        ),
        epilog=("examples:\n  actlab regions\n  actlab regions --quick --out geo\n"
                "  actlab regions --layers 2,8,8,1 --activation relu --dataset spiral --steps 2000 --seeds 20\n"
                "  actlab regions --layers 2,32,32,32,32,1 --seeds 5 --json"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--layers", type=lambda v: _int_list(v, "layer widths", "2,8,8,1"), default=None,
                   help="one architecture, 2 inputs to 1 output, e.g. 2,8,8,1 (default: the report's measurements)")
    p.add_argument("--activation", type=_activation, default="relu", help="with --layers: a piecewise-linear registry activation (default relu)")
    p.add_argument("--dataset", choices=datasets.names(), default="xor", help="with --layers (default xor)")
    p.add_argument("--steps", type=_nonneg_int, default=0, help="with --layers: training steps before counting (default 0: at init)")
    p.add_argument("--seeds", type=_positive_int, default=20, help="with --layers: seeds (default 20)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="first seed (default 0)")
    p.add_argument("--quick", action="store_true", help="the report's smaller run of the measurements")
    p.add_argument("--out", type=_folder, default=None, help="folder for results.json and the figures (default actlab-regions; none with --json)")
    p.add_argument("--json", action="store_true", help="print the results as JSON (files only with an explicit --out)")
    p.set_defaults(func=_cmd_regions)


def _cmd_regions(args) -> int:
    from dataclasses import replace

    from .experiments.geometry import GEOMETRY_PRESETS, measure_net, run_geometry

    out_dir = args.out or (None if args.json else "actlab-regions")
    with _console(stderr=True).status("regions") as status:
        if args.layers is not None:
            result = {"net": measure_net(args.layers, args.activation, args.dataset, args.steps, args.seeds, args.seed)}
        else:
            config = replace(GEOMETRY_PRESETS["report" if args.quick else "full"], seed=args.seed)
            result = run_geometry(config, progress=lambda name: status.update(f"regions: {name}"))
    if out_dir:
        from .viz import save_json, write_geometry_figures
        from .viz.geometry import plot_net_regions

        save_json(result, f"{out_dir}/results.json")
        if "net" in result:
            plot_net_regions(result["net"], f"{out_dir}/regions.png")
        else:
            write_geometry_figures(result, out_dir)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console = _console()
    _print_net(console, result["net"]) if "net" in result else _print_geometry(console, result)
    if out_dir:
        console.print(f"wrote results.json and the figures to {out_dir}/")
    return 0


def _q(d: dict, fmt: str = ".0f") -> str:
    return "—" if d["median"] is None else f"{d['median']:{fmt}} ({d['q25']:{fmt}}–{d['q75']:{fmt}})"


def _print_net(console, n: dict) -> None:
    console.print(f"{'-'.join(map(str, n['layers']))} {n['activation']} on {n['dataset']}, {n['n_seeds']} seeds, "
                  f"{n['steps']} training steps: regions {_q(n['regions'])} (median, quartiles) in the box "
                  f"{tuple(round(b, 2) for b in n['bounds'])}; the decision boundary crosses {_q(n['crossed'])}; "
                  f"accuracy median {100 * n['accuracy_median']:.1f}%; {1e3 * n['seconds_median']:.1f} ms a net")


def _print_geometry(console, r: dict) -> None:
    from rich.table import Table

    t = Table(title="XOR, the article's 2-4-1 set-up: linear regions in [−0.5, 1.5]² (median, quartiles)")
    for col in ("activation", "solved", "regions: solved", "failed", "boundary crosses: solved", "failed"):
        t.add_column(col, justify="left" if col == "activation" else "right")
    for row in r["xor"]:
        t.add_row(row["activation"], f"{row['solved']}/{row['n_seeds']}", _q(row["regions_solved"]), _q(row["regions_failed"]),
                  _q(row["crossed_solved"]), _q(row["crossed_failed"]))
    console.print(t)
    console.print("Depth against width (pieces of [0, 1]): " + ", ".join(
        f"L={d['L']}: {d['deep_pieces']} vs {d['shallow_pieces']}" for d in r["depth_vs_width"])
        + " — the sawtooth's L layers of 2 ReLUs against one layer of 2L")
    t = Table(title="Hanin & Rolnick 2019: regions at initialisation in the box, torch's default initialisation")
    for col in ("neurons N", "hidden layers", "width", "regions: median (q25–q75)", "median / N²"):
        t.add_column(col, justify="right")
    for row in r["hanin_rolnick"]:
        t.add_row(str(row["neurons"]), str(row["depth"]), str(row["width"]),
                  f"{row['regions_median']:.0f} ({row['regions_q25']:.0f}–{row['regions_q75']:.0f})", f"{row['regions_over_n2']:.3f}")
    console.print(t)
    tr = r["training"]
    console.print(f"During training (2-{'-'.join(map(str, tr['layers']))}-1 ReLU on {tr['dataset']}): median regions "
                  + ", ".join(f"step {s}: {m:.0f}" for s, m in zip(tr["steps"], tr["median"])))
    for h in r["hidden"]:
        console.print(f"hidden space, {h['activation']} 2-2-1 (seed {h['seed']}, {'solved' if h['solved'] else 'not solved'}): "
                      f"{h['projection']}")
    console.print("seconds: " + ", ".join(f"{k} {_num(v, '.1f')}" for k, v in r["seconds"].items()))
