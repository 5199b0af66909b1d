"""``actlab kernels``: infinite width — the kernel each activation makes, measured against real
networks. Parse, call, print."""

from __future__ import annotations

import argparse
import json

from ._cli_args import _console, _folder, _nonneg_int


def _add_kernels(sub) -> None:
    p = sub.add_parser(
        "kernels",
        help="infinite width: each activation's NNGP kernel against real nets, kernel regression, and what x² cannot learn",
        description=(
            "A random network of width n → ∞ is a Gaussian process whose kernel is fixed by its activation (the NNGP; "
            "gradient-descent training of it is kernel regression with the NTK). Measured here: (1) real torch nets' "
            "empirical NNGP converging to actlab.nngp as ≈ 1/√width, for linear, relu, tanh and square, over seeds; "
            "(2) NNGP kernel regression beside wide nets trained by train_many on circle and spiral — the linear "
            "activation's kernel is linear in (x, 1): its regression is least squares on the inputs; (3) Leshno et "
            "al. 1993: one hidden layer of growing width fitting |x| on [−1, 1] — square never beats the best "
            "quadratic, relu and tanh fall below it by orders of magnitude; (4) each kernel's rank: d + 1 for the "
            "linear activation at any depth, (d + 1)(d + 2)/2 for square at depth 1; (5) the article's three "
            "architectures — its dense net, its conv net with average pooling, its RNN — at infinite width "
            "(actlab.predict: the NTK trained to convergence) beside least squares and trained finite nets over seeds, "
            "on tasks a linear model cannot solve (the circle, the XOR of two colours in 8 × 8 images, the XOR of two "
            "features over 8 steps). Conventions: weights of variance σ_w²/fan_in, biases σ_b²; Σ⁰ = σ_w² x·x′/d + "
            "σ_b², Σ^(l+1) = σ_w² E[φ(u)φ(v)] + σ_b²."
        ),
        epilog="examples:\n  actlab kernels\n  actlab kernels --quick --out /tmp/k\n  actlab kernels --quick --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="one task, fewer seeds and smaller nets (about 15 s instead of about 60 s)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="draws the data and the nets (default 0)")
    p.add_argument("--out", type=_folder, default=None,
                   help="folder for results.json and the figures (default actlab-kernels; none with --json)")
    p.add_argument("--json", action="store_true", help="print the results as JSON (files only with an explicit --out)")
    p.set_defaults(func=_cmd_kernels)


def _cmd_kernels(args) -> int:
    from dataclasses import replace

    from .experiments.kernels import KERNELS_PRESETS, run_kernels

    from .viz.kernels import write_kernels_outputs

    config = replace(KERNELS_PRESETS["quick" if args.quick else "full"], seed=args.seed)
    nxt = {"convergence": "regression", "regression": "approximation", "approximation": "ranks", "ranks": "architectures",
           "architectures": "example"}
    return _study(args, "kernels", lambda progress: run_kernels(config, progress=progress).to_dict(), "convergence",
                  lambda part: nxt.get(part, part), write_kernels_outputs, _print_kernels)


def _study(args, name: str, run, first: str, next_part, write_outputs, print_result) -> int:
    """A study command's common run: the study (a status line on stderr naming the part under way,
    unless --json), results.json and the figures into --out (default actlab-NAME; none with --json
    alone), then the JSON or the tables."""
    from ._jsonsafe import finite

    out_dir = args.out or (None if args.json else f"actlab-{name}")
    if args.json:
        result = finite(run(None))
    else:
        with _console(stderr=True).status(f"{name}: {first}") as status:
            result = finite(run(lambda part: status.update(f"{name}: {next_part(part)}")))
    if out_dir:
        write_outputs(result, out_dir)
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
        return 0
    print_result(result)
    if out_dir:
        _console().print(f"wrote results.json and the figures to {out_dir}/")
    return 0


def _print_kernels(r: dict) -> None:
    from rich.table import Table

    console, cfg = _console(), r["config"]
    widths = sorted({c["width"] for c in r["convergence"]})
    t = Table(title=f"Real nets → the NNGP: relative Frobenius error, depth {cfg['depth']}, σ_w² = {cfg['sigma_w2']:g}, "
                    f"σ_b² = {cfg['sigma_b2']:g}, mean over {r['convergence'][0]['seeds']} seeds (≈ 1/√width expected)")
    t.add_column("activation")
    for w in widths:
        t.add_column(f"width {w}", justify="right")
    err = {(c["activation"], c["width"]): c["rel_error"] for c in r["convergence"]}
    for a in dict.fromkeys(c["activation"] for c in r["convergence"]):
        t.add_row(a, *(f"{err[(a, w)]:.3f}" for w in widths))
    console.print(t)
    t = Table(title="Test accuracy: NNGP regression (infinite width) and trained nets (median, q25–q75)")
    for col in ("task", "activation", "NNGP regression", "trained", "least squares"):
        t.add_column(col, justify="left" if col in ("task", "activation") else "right")
    for g in r["regression"]:
        ls = g.get("accuracy_least_squares")
        t.add_row(g["dataset"], g["activation"], f"{g['accuracy_kernel']:.1%}",
                  f"{g['accuracy_trained']:.1%} ({g['trained_q25']:.1%}–{g['trained_q75']:.1%})", "" if ls is None else f"{ls:.1%}")
    console.print(t)
    a = r["approximation"]
    t = Table(title=f"One hidden layer fitting {r['approximation_target']} (random weights, least-squares readout; median RMS "
                    f"error): best quadratic {r['polynomial_floor']:.2e}, best line {r['linear_floor']:.2e}")
    aw = sorted({x["width"] for x in a})
    t.add_column("activation")
    for w in aw:
        t.add_column(str(w), justify="right")
    e = {(x["activation"], x["width"]): x["error"] for x in a}
    for name in dict.fromkeys(x["activation"] for x in a):
        t.add_row(name, *(f"{e[(name, w)]:.1e}" for w in aw))
    console.print(t)
    console.print("kernel ranks on {n} points of dimension {d}: ".format(**r["ranks"][0])
                  + ", ".join(f"{k['activation']} depth {k['depth']}: {k['rank']}" for k in r["ranks"]))
    a0 = r["architectures"][0]
    t = Table(title=f"The article's architectures at infinite width (NTK trained to convergence) beside {a0['seeds']} trained nets "
                    f"of width {a0['width']} (median, q25–q75) and least squares: test accuracy, {a0['points']} examples")
    for col in ("architecture", "task", "activation", "infinite width", "trained", "least squares"):
        t.add_column(col, justify="left" if col in ("architecture", "task", "activation") else "right")
    for g in r["architectures"]:
        t.add_row(g["arch"], g["task"], g["activation"], f"{g['accuracy_infinite']:.1%}",
                  f"{g['accuracy_trained']:.1%} ({g['trained_q25']:.1%}–{g['trained_q75']:.1%})", f"{g['accuracy_least_squares']:.1%}")
    console.print(t)


# ---------------------------------------------------------------------------- signal


def _add_signal(sub) -> None:
    p = sub.add_parser(
        "signal",
        help="signal through depth: the edge of chaos, vanishing gradients and dynamical isometry, measured over seeds",
        description=(
            "Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017; Pennington et al. 2017) predicts from φ, "
            "σ_w² and σ_b² alone how a signal and a gradient travel through a deep random net. Measured here against "
            "real nets: (1) the phase diagram — deep tanh nets trained by plain SGD at weight variances across the "
            "ordered and chaotic phases, against the claim that nets deeper than about 6 ξ_c do not train; (2) "
            "gradients per layer at initialisation against χ₁^(L−l), for tanh and relu in both phases and sigmoid "
            "under Glorot's initialisation; (3) the spread of the input-output Jacobian's singular values at the edge "
            "of chaos, Gaussian against orthogonal weights; (4) linear regions at initialisation under He's and "
            "torch's default initialisation (Hanin & Rolnick 2019), explained by the signal's variance through depth. "
            "Conventions: weights of variance σ_w²/fan_in, biases σ_b²."
        ),
        epilog="examples:\n  actlab signal\n  actlab signal --quick --out /tmp/s\n  actlab signal --quick --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true",
                   help="fewer cells, seeds and smaller nets (about 10 s instead of about 100 s; the full run is the measurement)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="draws the data and the nets (default 0)")
    p.add_argument("--out", type=_folder, default=None,
                   help="folder for results.json and the figures (default actlab-signal; none with --json)")
    p.add_argument("--json", action="store_true", help="print the results as JSON (files only with an explicit --out)")
    p.set_defaults(func=_cmd_signal)


_SIGNAL_NEXT = {"theory": "phase diagram (training deep nets)", "phase_diagram": "gradients", "gradients": "Jacobian spectra",
                "isometry": "regions at initialisation", "regions_at_init": "signal variance by layer", "regions_signal": "done"}


def _cmd_signal(args) -> int:
    from .experiments.signal import preset, run_signal
    from .viz.signal import write_signal_outputs

    config = preset("quick" if args.quick else "full", seed=args.seed)
    return _study(args, "signal", lambda progress: run_signal(config, progress=progress).to_dict(), "theory",
                  _SIGNAL_NEXT.__getitem__, write_signal_outputs, _print_signal)


def _print_signal(r: dict) -> None:
    from rich.table import Table

    console, pd = _console(), r["phase_diagram"]
    t = Table(title=f"Phase diagram: {pd['activation']}, σ_b² = {pd['sigma_b2']:g}, width {pd['width']}; fraction of "
                    f"{pd['seeds']} seeds trained ({pd['trained_means']}); * = deeper than 6 ξ_c")
    t.add_column("σ_w²", justify="right")
    t.add_column("ξ_c", justify="right")
    for d in pd["depths"]:
        t.add_column(f"L={d}", justify="right")
    for i, w2 in enumerate(pd["sigma_w2"]):
        xi = pd["xi_c"][i]
        t.add_row(f"{w2:g}", "∞" if xi is None else f"{xi:.1f}",
                  *(f"{f:.2f}{'' if p else '*'}" for f, p in zip(pd["trained"][i], pd["predicted_trainable"][i])))
    console.print(t)
    console.print(f"6 ξ_c predicts trained/untrained in {pd['agreement']:.0%} of cells (trained: at least half the seeds)")
    t = Table(title="Gradients at initialisation: worst ratio measured / χ₁^(L−l) over the layers")
    for col in ("activation", "init", "σ_w²", "χ₁", "χ₁^(L−1)", "measured at l=1", "worst ratio"):
        t.add_column(col, justify="left" if col in ("activation", "init") else "right")
    for act, init in dict.fromkeys((g["activation"], g["init"]) for g in r["gradients"]):
        sel = [g for g in r["gradients"] if (g["activation"], g["init"]) == (act, init)]
        worst = max(max(g["measured"] / g["predicted"], g["predicted"] / g["measured"]) for g in sel)
        t.add_row(act, init, f"{sel[0]['sigma_w2']:g}", f"{sel[0]['chi1']:.3f}", f"{sel[0]['predicted']:.3g}",
                  f"{sel[0]['measured']:.3g}", f"{worst:.2f}")
    console.print(t)
    t = Table(title="Dynamical isometry at the edge of chaos: variance of J Jᵀ's eigenvalues, measured / predicted")
    for col in ("activation", "σ_b²", "init", *(f"L={d}" for d in sorted({x["depth"] for x in r["isometry"]}))):
        t.add_column(col, justify="left" if col in ("activation", "init") else "right")
    for act, b2, init in dict.fromkeys((x["activation"], x["sigma_b2"], x["init"]) for x in r["isometry"]):
        sel = sorted((x for x in r["isometry"] if (x["activation"], x["sigma_b2"], x["init"]) == (act, b2, init)),
                     key=lambda x: x["depth"])
        t.add_row(act, f"{b2:g}", init, *(f"{x['variance']:.3g} / {x['predicted_variance']:.3g}" for x in sel))
    console.print(t)
    t = Table(title="Linear regions at initialisation (median), plane through three random inputs")
    depths = sorted({x["depth"] for x in r["regions_at_init"]})
    for col in ("init", "neurons", *(f"depth {d}" for d in depths)):
        t.add_column(col, justify="left" if col == "init" else "right")
    for init, n in dict.fromkeys((x["init"], x["neurons"]) for x in r["regions_at_init"]):
        cells = {x["depth"]: x["median"] for x in r["regions_at_init"] if (x["init"], x["neurons"]) == (init, n)}
        t.add_row(init, str(n), *(f"{cells[d]:.0f}" if d in cells else "" for d in depths))
    console.print(t)
    last = {x["init"]: x for x in r["regions_signal"]}
    console.print("signal variance at the last hidden layer: " + "; ".join(
        f"{k}: q = {v['q_predicted']:.3g} predicted, {v['q_measured']:.3g} measured, bias share {v['bias_share']:.0%}"
        for k, v in last.items()))
