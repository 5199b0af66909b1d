"""Regenerate docs/img/ and every measured table of the docs pages (and the README) on this machine.

    make figures          # = .venv/bin/python benchmarks/make_figures.py [--skip-bench]

Figures: docs/img/xor_success.png, xor_boundaries.png, xor_loss_curves_all.png and
derivation_2-2-1.png. Tables: each block (in docs/*.md or README.md) between `<!-- figures:NAME -->` and
`<!-- /figures:NAME -->` is replaced by what this script measures now —
  article      the article's printed numbers beside `actlab collapse --arch all` and `actlab xor` over 2,000 seeds
  xor          the XOR lab over 2,000 seeds, and where the failed ReLU seeds end up
  regions      `actlab regions` (whole command, fresh process), docs/img/xor_regions.png, regions_depth.png,
               hidden_space.png, and benchmarks/bench_regions.py
  dynamics     `actlab dynamics` (whole command, fresh process) and docs/img/saxe_*.png, xor_init_range.png, relu_failures.png
  demo         `actlab demo` and `actlab demo --quick`, whole commands, fresh processes
  collapse     benchmarks/bench_collapse.py (cold and warm whole calls, and the parts)
  xor-command  benchmarks/bench_xor_command.py (the whole command against a plain loop)
  train        benchmarks/bench_train.py (CPU rows)
  audit        benchmarks/bench_audit.py (the zoo)
  fold         benchmarks/bench_fold.py
  play         benchmarks/bench_play.py (three set-ups: engine, page), and docs/img/playground.png
  kernels      `actlab kernels` (whole command, fresh process) and docs/img/kernels_*.png
  kernels-speed benchmarks/bench_kernels.py, beside neural-tangents where $ACTLAB_NT_PYTHON names its venv's Python
  signal       `actlab signal` (whole command, fresh process) and docs/img/signal_*.png
  signal-speed benchmarks/bench_signal.py (critical_sigma_w2 beside bisection)
  kernel-layout benchmarks/bench_kernel_layout.py (the fused step's builds, interleaved)
  sweep        `actlab sweep phase_diagram` (whole command, fresh process), docs/img/sweep_phase_diagram.png,
               the paper-size spec's --dry-run, and benchmarks/bench_sweep.py (overhead per cell)
Every block says which command produced it. --skip-bench regenerates the figures and the xor
block only (a minute instead of ten).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]  # where the measured blocks live
CPU_NAMED = re.compile(r"AMD|Intel|Xeon|EPYC|Apple|ARM|aarch64|Neoverse|CPU")  # tests/test_docs.py checks every block for it
PLATEAUS = {"1/6 (three points fitted, one averaged)": 1 / 6, "1/4 (the best affine fit)": 1 / 4, "1/8": 1 / 8}


def _bench(script: str, *args: str) -> dict | list:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args, "--json"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def _cpu() -> str:
    from actlab.play._kernel import cpu_name

    return cpu_name()


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def xor_block() -> str:
    import torch

    from actlab import activations, symbolic, train, viz
    from actlab.experiments.xor import XorConfig, XorResult, run_xor

    acts = ("linear", "sigmoid", "relu", "tanh", "maxout", "square")
    t0 = time.perf_counter()
    result = run_xor(XorConfig(activations=acts, n_seeds=2000))
    seconds = time.perf_counter() - t0
    viz.plot_success(result, IMG / "xor_success.png")
    classic = XorConfig(activations=("linear", "sigmoid", "relu", "tanh"), n_seeds=2000)
    viz.plot_boundaries(XorResult(classic, result.X, result.y, {k: result.activations[k] for k in classic.activations}),
                        IMG / "xor_boundaries.png")
    viz.plot_loss_curves(run_xor(XorConfig(activations=(*activations.names(), train.MAXOUT), n_seeds=1000)),
                         IMG / "xor_loss_curves_all.png")
    viz.render_derivation(symbolic.derive((2, 2, 1)), IMG / "derivation_2-2-1.png")
    rows = ["| activation | solved (2,000 seeds) | 95 % Wilson CI | final MSE median | steps to loss 1e-3: median (q25–q75) |",
            "|---|---:|---:|---:|---:|"]
    for name, st in result.activations.items():
        h = st.steps_to_hit
        steps = "never" if h["median"] is None else f"{h['median']:.0f} ({h['q25']:.0f}–{h['q75']:.0f})"
        rows.append(f"| {name} | {_pct(st.success_rate)} | {100 * st.success_ci[0]:.1f}–{100 * st.success_ci[1]:.1f} % "
                    f"| {st.final_mse_median:.2g} | {steps} |")
    # where the failed ReLU seeds end: their final MSE against the known plateaus
    cfg = classic.train_config("relu")
    data_X = torch.tensor(result.X)
    y = torch.tensor(result.y)
    run = train.train(cfg, data_X, y, torch.arange(2000))
    pred = train.forward(cfg, run.params, data_X)  # (S, 4)
    solved = ((pred - y).abs() < classic.margin).all(dim=1)
    mse = ((pred - y) ** 2).mean(dim=1)[~solved]
    counts = {k: int(((mse - v).abs() < 1e-3).sum()) for k, v in PLATEAUS.items()}
    other = int(mse.numel() - sum(counts.values()))
    relu = result.activations["relu"]
    breakdown = (f"Over 2,000 seeds the article's ReLU set-up solves XOR {_pct(relu.success_rate)} of the time. "
                 f"The {int(mse.numel()):,} failures end at MSE " + ", ".join(f"{k}: {n:,}" for k, n in counts.items())
                 + f"; other values: {other:,}.")
    return "\n".join([
        f"(`python benchmarks/make_figures.py --skip-bench`, 2 CPU cores: the six rows train in {seconds:.1f} s.)",
        "", *rows, "", breakdown,
    ])


def _command_json(command: str, figures: tuple[str, ...]) -> tuple[dict, float]:
    """`actlab COMMAND --json --out TMP` in a fresh process: its JSON and wall time; ``figures``
    copied from TMP into docs/img/."""
    import shutil

    actlab = str(Path(sys.executable).with_name("actlab"))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([actlab, command, "--json", "--out", tmp], capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        for name in figures:
            shutil.copy(Path(tmp) / name, IMG / name)
    return json.loads(out.stdout), wall


def dynamics_block() -> str:
    """`actlab dynamics` as a whole command in a fresh process: its tables, and its figures."""
    d, wall = _command_json("dynamics", ("saxe_modes.png", "xor_init_range.png", "saxe_depth.png", "relu_failures.png"))
    saxe = d["saxe"]
    modes = ["| s | R² vs a(t) | half-time measured | predicted (τ/2s)·ln(s/a₀ − 1) | best single exponential R² | no hidden layer: R² |",
             "|---:|---:|---:|---:|---:|---:|"]
    for m, sh in zip(saxe["modes"], saxe["shallow"]["modes"]):
        modes.append(f"| {m['s']:g} | {m['r2']:.5f} | {m['half_time_measured']:.0f} | {m['half_time_predicted']:.0f} "
                     f"| {m['single_exponential_r2']:.3f} | {sh['r2']:.5f} |")
    depth = ["| hidden layers | " + " | ".join(dict.fromkeys(r["init"] for r in saxe["depth"])) + " |",
             "|---:|" + "---:|" * len(set(r["init"] for r in saxe["depth"]))]
    for k in dict.fromkeys(r["depth"] for r in saxe["depth"]):
        cells = [("not learned" if r["steps_median"] is None else f"{r['steps_median']:.0f}")
                 + (f" ({r['not_reached']}/{r['n_seeds']} not learned)" if 0 < r["not_reached"] < r["n_seeds"] else "")
                 for r in saxe["depth"] if r["depth"] == k]
        depth.append(f"| {k} | " + " | ".join(cells) + " |")
    grid = ["| net | activation | smallest r | best r | largest r |", "|---|---|---:|---:|---:|"]
    rows = d["xor_init_scale"]
    for arch, act in dict.fromkeys((r["arch"], r["activation"]) for r in rows):
        sel = [r for r in rows if r["arch"] == arch and r["activation"] == act]
        best = max(sel, key=lambda r: r["success_rate"])
        cell = lambda r: f"{_pct(r['success_rate'])} at r = {r['range']:g}"  # noqa: E731
        grid.append(f"| {arch} | {act} | {cell(sel[0])} ({sel[0]['failed_still_descending']:,} of {sel[0]['failed']:,} failures "
                    f"still descending) | {cell(best)}, median {best['steps_median']:.0f} steps | {cell(sel[-1])} |")
    rel = d["relu_failures"]
    relu = ["| final | seeds | dead units at init → end (mean) | points averaged (most common) |", "|---|---:|---:|---|"]
    for c in rel["classes"]:
        top = ", ".join(f"{k or 'none'} ×{v:,}" for k, v in list(c["averaged"].items())[:2])
        relu.append(f"| {c['class'] if c['class'] == 'solved' else 'MSE ' + c['class']} | {c['count']:,} "
                    f"| {c['dead_init_mean']:.2f} → {c['dead_final_mean']:.2f} | {top} |")
    sec = ", ".join(f"{k} {v:.1f} s" for k, v in d["seconds"].items())
    return "\n".join([
        f"`actlab dynamics --json --out DIR` took **{wall:.0f} s** as a whole command in a fresh process (imports and "
        f"figures included; {sec}) for {d['n_xor_nets']:,} XOR nets and the Saxe runs, 2 CPU cores.", "",
        f"Saxe et al.: one hidden layer, τ = {saxe['modes'][0]['tau']:g} steps, a₀ = {saxe['modes'][0]['a0']:g}; "
        f"{saxe['n_checkpoints']} checkpoints, each collapsed to one linear map (max residual "
        f"{saxe['collapse_residual_max']:.1e}, tolerance {saxe['collapse_tolerance']:.1e}).", "", *modes, "",
        "Median steps to learn 99 % against depth (learning rate / number of weight layers, "
        f"{saxe['depth'][0]['n_seeds']} initialisations each, at most {saxe['depth'][0]['max_steps']:,} steps):", "", *depth, "",
        f"XOR over {rows[0]['n_seeds']:,} seeds per setting (weights and biases U(−r, r), plain gradient descent lr "
        f"{d['config']['xor']['lr']:g}, ≤ {d['config']['xor']['n_steps']:,} steps, solved = MSE < 0.04):", "", *grid, "",
        f"The article's {rel['set_up']}, {rel['n_seeds']:,} seeds ({_pct(rel['success_rate'])} solved):", "", *relu,
    ])


def kernels_block() -> str:
    """`actlab kernels` as a whole command in a fresh process: its tables, and its figures."""
    d, wall = _command_json("kernels", ("kernels_heatmaps.png", "kernels_convergence.png", "kernels_regression.png",
                                        "kernels_approximation.png", "kernels_architectures.png"))
    cfg = d["config"]
    widths = sorted({r["width"] for r in d["convergence"]})
    err = {(r["activation"], r["width"]): r for r in d["convergence"]}
    conv = ["| activation | " + " | ".join(f"width {w:,}" for w in widths) + " |", "|---|" + "---:|" * len(widths)]
    for a in dict.fromkeys(r["activation"] for r in d["convergence"]):
        conv.append(f"| {a} | " + " | ".join(f"{err[(a, w)]['rel_error']:.3f} ± {err[(a, w)]['rel_error_sd']:.3f}"
                                              for w in widths) + " |")
    reg = ["| task | activation | NNGP regression | trained nets: median (q25–q75) | least squares |", "|---|---|---:|---:|---:|"]
    for r in d["regression"]:
        ls = _pct(r["accuracy_least_squares"]) if "accuracy_least_squares" in r else ""
        reg.append(f"| {r['dataset']} | {r['activation']} | {_pct(r['accuracy_kernel'])} | {_pct(r['accuracy_trained'])} "
                   f"({_pct(r['trained_q25'])}–{_pct(r['trained_q75'])}) | {ls} |")
    ap = d["approximation"]
    aw = sorted({r["width"] for r in ap})
    e = {(r["activation"], r["width"]): r["error"] for r in ap}
    approx = ["| activation | " + " | ".join(str(w) for w in aw) + " |", "|---|" + "---:|" * len(aw)]
    for a in dict.fromkeys(r["activation"] for r in ap):
        approx.append(f"| {a} | " + " | ".join(f"{e[(a, w)]:.1e}" for w in aw) + " |")
    ranks = ", ".join(f"{r['activation']} (depth {r['depth']}) {r['rank']}" for r in d["ranks"])
    sec = ", ".join(f"{k} {v:.1f} s" for k, v in d["seconds"].items())
    return "\n".join([
        f"`actlab kernels --json --out DIR` took **{wall:.0f} s** as a whole command in a fresh process (imports and "
        f"figures included; {sec}), 2 CPU cores. σ_w² = {cfg['sigma_w2']:g}, σ_b² = {cfg['sigma_b2']:g}.", "",
        f"Relative Frobenius error of real nets' empirical NNGP against `actlab.nngp` (depth {cfg['depth']}, "
        f"{cfg['conv_points']} spiral points, mean ± sd over {cfg['conv_seeds']} nets per width):", "", *conv, "",
        f"Test accuracy, NNGP regression (one hidden layer) beside {cfg['reg_seeds']} nets of width {cfg['reg_width']} "
        f"trained by `train_many` ({cfg['reg_steps']} Adam steps):", "", *reg, "",
        f"RMS error fitting {d['approximation_target']} with one hidden layer (random weights, least-squares readout; "
        f"median over {cfg['approx_seeds']} draws); the best quadratic errs {d['polynomial_floor']:.2e}, the best line "
        f"{d['linear_floor']:.2e}:", "", *approx, "",
        f"Kernel ranks on {d['ranks'][0]['n']} points of dimension {d['ranks'][0]['d']}: {ranks}.", "",
        *_arch_accuracy_lines(d),
    ])


def _arch_accuracy_lines(d: dict) -> list[str]:
    """`actlab kernels`' table of the article's three architectures at infinite width."""
    a0 = d["architectures"][0]
    rows = ["| architecture | task | activation | infinite width | trained nets: median (q25–q75) | least squares |",
            "|---|---|---|---:|---:|---:|"]
    for r in d["architectures"]:
        rows.append(f"| {r['arch']} | {r['task']} | {r['activation']} | {_pct(r['accuracy_infinite'])} | "
                    f"{_pct(r['accuracy_trained'])} ({_pct(r['trained_q25'])}–{_pct(r['trained_q75'])}) | "
                    f"{_pct(r['accuracy_least_squares'])} |")
    return [f"Test accuracy of the article's three architectures at infinite width (`actlab.predict`, the NTK trained to "
            f"convergence) beside {a0['seeds']} finite nets of width {a0['width']} trained by Adam ({a0['steps']} steps) and "
            f"least squares on (x, 1); {a0['points']} training and as many test examples:", "", *rows]


def signal_block() -> str:
    """`actlab signal` as a whole command in a fresh process: its tables, and its figures."""
    d, wall = _command_json("signal", ("signal_phase_diagram.png", "signal_gradients.png", "signal_isometry.png",
                                       "signal_regions.png"))
    pd = d["phase_diagram"]
    phase = ["| σ_w² | ξ_c | " + " | ".join(f"L = {x}" for x in pd["depths"]) + " |", "|---:|---:|" + "---:|" * len(pd["depths"])]
    for i, w2 in enumerate(pd["sigma_w2"]):
        xi = pd["xi_c"][i]
        cells = [f"{f:.2f}{'' if ok else '*'} ({lo:.2f}–{hi:.2f})"
                 for f, ok, (lo, hi) in zip(pd["trained"][i], pd["predicted_trainable"][i], pd["trained_ci"][i])]
        phase.append(f"| {w2:g} | {'∞' if xi is None else f'{xi:.1f}'} | " + " | ".join(cells) + " |")
    grads = ["| activation | point | σ_w² | σ_b² | χ₁ | χ₁^(L−1) | measured at layer 1 | worst measured / predicted |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for act, init in dict.fromkeys((g["activation"], g["init"]) for g in d["gradients"]):
        sel = [g for g in d["gradients"] if (g["activation"], g["init"]) == (act, init)]
        worst = max(sel, key=lambda g: max(g["measured"] / g["predicted"], g["predicted"] / g["measured"]))
        grads.append(f"| {act} | {init} | {sel[0]['sigma_w2']:g} | {sel[0]['sigma_b2']:g} | {sel[0]['chi1']:.3f} "
                     f"| {sel[0]['predicted']:.3g} | {sel[0]['measured']:.3g} | {worst['measured'] / worst['predicted']:.2f} "
                     f"(layer {worst['layer']}) |")
    depths = sorted({x["depth"] for x in d["isometry"]})
    iso = ["| activation | σ_b² | q* | weights | " + " | ".join(f"L = {x} (width {100 * x})" for x in depths) + " |",
           "|---|---:|---:|---|" + "---:|" * len(depths)]
    for act, b2, init in dict.fromkeys((x["activation"], x["sigma_b2"], x["init"]) for x in d["isometry"]):
        sel = {x["depth"]: x for x in d["isometry"] if (x["activation"], x["sigma_b2"], x["init"]) == (act, b2, init)}
        q = sel[depths[0]]["q_star"]
        iso.append(f"| {act} | {b2:g} | {'—' if q is None or act == 'linear' else f'{q:.3g}'} | {init} | "
                   + " | ".join(f"{sel[x]['variance']:.3g} / {sel[x]['predicted_variance']:.3g}" for x in depths) + " |")
    rdepths = sorted({x["depth"] for x in d["regions_at_init"]})
    reg = ["| initialisation | N | " + " | ".join(f"{x} layer{'s' if x > 1 else ''}" for x in rdepths) + " |",
           "|---|---:|" + "---:|" * len(rdepths)]
    for init, n in dict.fromkeys((x["init"], x["neurons"]) for x in d["regions_at_init"]):
        cells = {x["depth"]: x for x in d["regions_at_init"] if (x["init"], x["neurons"]) == (init, n)}
        reg.append(f"| {init} | {n} | " + " | ".join(f"{cells[x]['median']:.0f} ({cells[x]['q1']:.0f}–{cells[x]['q3']:.0f})"
                                                     if x in cells else "" for x in rdepths) + " |")
    var = ["| initialisation | layer | σ_w² | σ_b² | q predicted | q measured | share from the bias |", "|---|---:|---:|---:|---:|---:|---:|"]
    for x in d["regions_signal"]:
        var.append(f"| {x['init']} | {x['layer']} | {x['sigma_w2']:.3g} | {x['sigma_b2']:.3g} | {x['q_predicted']:.3g} "
                   f"| {x['q_measured']:.3g} | {_pct(x['bias_share'])} |")
    cfg, sec = d["config"], ", ".join(f"{k} {v:.1f} s" for k, v in d["seconds"].items())
    claims = _signal_claims(d)
    return "\n".join([
        "Each paper's claim beside the measurement (the tables below give every cell):", "", *claims, "",
        f"`actlab signal --json --out DIR` took **{wall:.0f} s** as a whole command in a fresh process (imports and "
        f"figures included; {sec}) on {_cpu()}, 2 cores.", "",
        f"Phase diagram: {pd['activation']}, σ_b² = {pd['sigma_b2']:g} (critical σ_w² = {pd['critical_sigma_w2']:.4f}), width "
        f"{pd['width']}, {pd['seeds']} seeds a cell; {pd['dataset_note']}; trained = {pd['trained_means']}. Fraction "
        f"trained (95 % Wilson interval); * = deeper than 6 ξ_c. The 6 ξ_c line is right in **{_pct(pd['agreement'])}** of "
        "the cells (trained = at least half the seeds):", "", *phase, "",
        f"Gradients at initialisation (width {d['gradients'][0]['width']}, {d['gradients'][0]['depth']} layers, "
        f"{d['gradients'][0]['seeds']} seeds × {cfg['grad_inputs']} inputs):", "", *grads, "",
        f"Variance of J Jᵀ's eigenvalues at the edge of chaos, measured / predicted ({cfg['iso_seeds']} seeds each):", "", *iso, "",
        f"Linear regions at initialisation, median (quartiles) over {d['regions_at_init'][0]['nets']} nets, in the plane "
        f"through three N(0, I) inputs of dimension {cfg['reg_dim']} (plane coordinates [0, 1]²):", "", *reg, "",
        f"Pre-activation variance per layer ({max(cfg['reg_neurons'])} ReLUs over {max(cfg['reg_depths'])} layers, "
        f"{d['regions_signal'][0]['nets']} nets):", "", *var,
    ])


def _signal_claims(d: dict) -> list[str]:
    """The papers' claims, one row each, with what `actlab signal` measured."""
    pd, iso, grads = d["phase_diagram"], d["isometry"], d["gradients"]
    off = [f"σ_w² {pd['sigma_w2'][i]:g}, L {L} ({L / pd['xi_c'][i]:.1f} ξ_c): {pd['trained'][i][j]:.2f} trained"
           if pd["xi_c"][i] is not None else f"σ_w² {pd['sigma_w2'][i]:g} (the edge), L {L}: {pd['trained'][i][j]:.2f} trained"
           for i in range(len(pd["sigma_w2"])) for j, L in enumerate(pd["depths"]) if not pd["agrees"][i][j]]
    worst = max(max(g["measured"] / g["predicted"], g["predicted"] / g["measured"]) for g in grads)
    sig = next(g for g in grads if g["activation"] == "sigmoid" and g["layer"] == 1)
    L = max(x["depth"] for x in iso)
    at = {(x["activation"], x["init"], x["sigma_b2"]): x for x in iso if x["depth"] == L}
    lin_g, lin_o = at[("linear", "gaussian", 0.0)], at[("linear", "orthogonal", 0.0)]
    relu_g, relu_o = at[("relu", "gaussian", 0.0)], at[("relu", "orthogonal", 0.0)]
    tanh = sorted((x for k, x in at.items() if k[0] == "tanh" and k[1] == "orthogonal"), key=lambda x: x["q_star"])
    reg = d["regions_at_init"]
    N, dmin, dmax = max(r["neurons"] for r in reg), min(r["depth"] for r in reg), max(r["depth"] for r in reg)
    ratio = {i: next(r["median"] for r in reg if (r["init"], r["neurons"], r["depth"]) == (i, N, dmax))
             / next(r["median"] for r in reg if (r["init"], r["neurons"], r["depth"]) == (i, N, dmin)) for i in ("he", "torch_default")}
    rows = ["| claim | source | measured | agrees? |", "|---|---|---|---|",
            f"| nets deeper than about 6 ξ_c do not train | Schoenholz et al. 2017 | right in {_pct(pd['agreement'])} of "
            f"{len(pd['sigma_w2']) * len(pd['depths'])} cells; off: {'; '.join(off) or 'none'} | mostly: a scale, not a sharp "
            "bound; near the edge the step budget, not ξ_c, limits depth |",
            f"| gradients scale as χ₁^(L−l) | Schoenholz et al. 2017 | every layer of {len({(g['activation'], g['init']) for g in grads})} "
            f"set-ups within a factor {worst:.2f} | yes |",
            f"| sigmoid with Glorot's initialisation: the first layers' gradients vanish | Glorot & Bengio 2010 | χ₁ = "
            f"{sig['chi1']:.3f}: layer 1 gets {sig['measured']:.2g} of the last layer's (predicted {sig['predicted']:.2g}) | yes |",
            f"| linear: variance L with Gaussian weights, 0 with orthogonal | Pennington et al. 2017 | L = {L}: "
            f"{lin_g['variance']:.3g} and {lin_o['variance']:.1e} | yes |",
            f"| ReLU: 2L and L, no isometry from orthogonal weights | Pennington et al. 2017 | L = {L}: {relu_g['variance']:.3g} "
            f"and {relu_o['variance']:.3g} | yes |",
            "| tanh and hard-tanh below L on the critical line, falling as q* → 0 | Pennington et al. 2017 | orthogonal tanh at L = "
            f"{L}: " + ", ".join(f"{x['variance']:.3g} at q* {x['q_star']:.2g}" for x in tanh) + " | yes |",
            f"| regions hardly depend on depth at initialisation | Hanin & Rolnick 2019 | N = {N}, {dmax} layers against 1: "
            f"×{ratio['he']:.2f} with He weights, ×{ratio['torch_default']:.2f} with torch's default | under the paper's "
            "conditions; not under torch's default, whose signal shrinks with depth |"]
    return rows


def signal_speed_block() -> str:
    """benchmarks/bench_signal.py: the edge of chaos per activation, against bisection."""
    d = _bench("bench_signal.py")
    rows = ["| activation | σ_b² | critical σ_w² | q* there | time | bisection | ratio |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in d["rows"]:
        q = "0 (the signal dies)" if r["q_star"] == 0 else f"{r['q_star']:.4g}"
        rows.append(f"| {r['activation']} | {r['sigma_b2']:g} | {r['critical_sigma_w2']:.4f} | {q} | {r['seconds']:.2f} s "
                    f"| {r['bisection_seconds']:.2f} s | {r['speedup']:.1f}× |")
    return "\n".join([f"`python benchmarks/bench_signal.py` on {d['cpu']}, 2 cores: one `critical_sigma_w2` call with a cold "
                      f"cache (median of {d['repeats']}), beside sixty halvings of the same search measured in the same run:", "",
                      *rows, "", "sigmoid's mean of ½ keeps its pre-activations large, and its slope is at most ¼: its edge of "
                      "chaos lies far out."])


def sweep_block() -> str:
    """The shipped phase diagram through `actlab sweep`, its figure, the paper-size estimate and the overhead."""
    import shutil

    from actlab.viz.sweep import plot_grid

    actlab = str(Path(sys.executable).with_name("actlab"))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = subprocess.run([actlab, "sweep", "phase_diagram", "--out", tmp, "--json"], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        plot_grid(rows, "sigma_w2", "depth", IMG / "sweep_phase_diagram.png",
                  title=f"actlab sweep phase_diagram: fraction of {rows[0]['seeds']} seeds trained (tanh, σ_b² = 0.05, width 32)")
        shutil.rmtree(tmp, ignore_errors=True)
    from actlab.studies import load_spec
    from actlab.studies.cell import cell_flops

    paper = load_spec(str(ROOT / "examples" / "phase_diagram_paper.toml"))
    flops = sum(cell_flops(c, paper.seeds) for c in paper.cells())
    b = _bench("bench_sweep.py")
    per_cell = sum(r["seconds"] for r in rows) / len(rows)
    return "\n".join([
        f"`actlab sweep phase_diagram --out DIR --json` took **{wall:.0f} s** as a whole command in a fresh process on "
        f"{_cpu()}, 2 cores: {len(rows)} cells, {per_cell:.1f} s a cell on average "
        "(the figure below; `actlab signal` trains the same nets seven weight variances at a time).", "",
        f"examples/phase_diagram_paper.toml ({len(paper.cells())} cells × {paper.seeds} seeds, width 300, depths 10–300, "
        f"3,000 steps on 1,797 rows): **{flops:.3g} floating-point operations** in its matrix products, counted exactly "
        f"(`--dry-run` prints it): {flops / 20e12 / 3600:.0f} GPU-hours at a sustained 20 TFLOP/s, "
        f"{flops / 50e12 / 3600:.0f} at 50 — rates assumed, not measured here (no GPU in this run).", "",
        f"`python benchmarks/bench_sweep.py`: {b['cells']} cells of {b['seeds']:,} seeds ({b['bare_per_cell_s']:.2f} s a cell), "
        f"median of {b['repeats']}: bare `train_many` {b['bare_s']:.2f} s, `actlab.sweep` {b['sweep_s']:.2f} s — "
        f"**×{b['ratio']:.3f}**, {b['overhead_per_cell_ms']:+.0f} ms a cell (the target: at most ×1.05).",
    ])


def kernels_speed_block() -> str:
    """benchmarks/bench_kernels.py: actlab.ntk's time and error, beside neural-tangents' when
    $ACTLAB_NT_PYTHON names a venv that has it."""
    d = _bench("bench_kernels.py")
    nt = "nt_warm_s" in d["rows"][0]
    head = "| activation | actlab first call | warm | error |" + (" NT first call | warm | error | error at deg 100 | NT warm / actlab warm |" if nt else "")
    lines = [head, "|---|---:|---:|---:|" + ("---:|---:|---:|---:|---:|" if nt else "")]
    for r in d["rows"]:
        row = f"| {r['activation']} | {r['actlab_first_s']:.3f} s | {r['actlab_warm_s']:.3f} s | {r['actlab_error']:.1e} |"
        if nt:
            fine = f"{r['nt_error_deg100']:.1e}" if r["activation"] not in ("relu", "gelu", "erf") else "(closed form)"
            row += f" {r['nt_first_s']:.3f} s | {r['nt_warm_s']:.3f} s | {r['nt_error']:.1e} | {fine} | {r['warm_speedup']:.1f}× |"
        lines.append(row)
    imp = sorted(r["actlab_import_s"] for r in d["rows"])[len(d["rows"]) // 2]
    return "\n".join([
        f"`python benchmarks/bench_kernels.py{' --nt-python …' if nt else ''}` on {d['cpu']}, 2 cores: the NTK at depth "
        f"{d['depth']} of {d['n']} × {d['n']} inputs of dimension {d['dim']}, float64. First call: a fresh process, the call "
        f"alone (`import actlab`, torch with it, takes {imp:.2f} s more; NT's first call includes its jit compilation, "
        f"not `import jax`). Warm: the median of 5 more calls; for the closed forms (relu, gelu, erf), the median of 5 "
        "rounds of those medians, the two libraries timed in turn (tens of milliseconds, where this shared machine's "
        "noise is as large as the difference). Error: max |K − K_ref| / max |K_ref| on the first 60 "
        "inputs, K_ref by actlab's direct rule for every pair (independent of the Hermite series)"
        + ("; neural-tangents 0.6.5 on jax 0.4.30 in its own venv: its closed forms for relu, gelu and erf, "
           "`ElementwiseNumerical(deg=25)` for the others; its error at `deg=100` (on the 60 inputs) says what a finer, "
           "about 16 times slower, rule would buy." if nt else "."), "", *lines, "", *_architectures_lines(d, nt),
    ])


def _architectures_lines(d: dict, nt: bool) -> list[str]:
    """The second and third tables of bench_kernels.py: the article's conv architecture and nn.RNN."""
    a = d["architectures"]
    head = "| kernels | actlab first call | warm | peak memory |" + (" NT first call | warm | peak memory | difference | NT warm / actlab warm |" if nt else "")
    lines = [head, "|---|---:|---:|---:|" + ("---:|---:|---:|---:|---:|" if nt else "")]
    for label, name in (("nngp", "NNGP"), ("both", "NNGP and NTK")):
        o = a["ours"][label]
        row = f"| {name} | {o['first']:.2f} s | {o['warm']:.2f} s | {o['peak']:.0f} MiB |"
        if nt:
            n = a["nt"][label]
            row += f" {n['first']:.2f} s | {n['warm']:.2f} s | {n['peak']:.0f} MiB | {n['diff']:.1e} | {n['warm'] / o['warm']:.1f}× |"
        lines.append(row)
    r = a["ours"]["rnn"]
    return [
        "The article's convolutional architecture by `actlab.kernel` (3×3 convolution, relu, 3×3 convolution, relu, 2×2 "
        "average pooling, dense readout) on 200 RGB images of 8 × 8, float64, same run; peak memory: the process's "
        "resident memory above its baseline (library imported, inputs made); difference: the largest |actlab − NT| "
        "relative to the largest entry" + (" (NT: stax's serial of the same layers)." if nt else "."), "", *lines, "",
        f"`nn.RNN` (tanh, last state, linear readout), NNGP and NTK of 200 sequences of 20 steps: first call "
        f"{r['first']:.2f} s, warm {r['warm']:.2f} s (neural-tangents has no recurrent layer).",
    ]


def regions_block() -> str:
    """`actlab regions` (whole command, fresh process), its figures, and bench_regions.py."""
    g, wall = _command_json("regions", ("xor_regions.png", "regions_depth.png", "hidden_space.png"))
    xor = ["| activation | solved | regions: solved | failed | regions the boundary crosses: solved | failed |", "|---|---:|---:|---:|---:|---:|"]
    q = lambda d: "—" if d["median"] is None else f"{d['median']:.0f} ({d['q25']:.0f}–{d['q75']:.0f})"  # noqa: E731
    for r in g["xor"]:
        xor.append(f"| {r['activation']} | {r['solved']}/{r['n_seeds']} | {q(r['regions_solved'])} | {q(r['regions_failed'])} "
                   f"| {q(r['crossed_solved'])} | {q(r['crossed_failed'])} |")
    hr = ["| neurons N | hidden layers | regions: median (q25–q75) | median / N² |", "|---:|---:|---:|---:|"]
    for r in g["hanin_rolnick"]:
        hr.append(f"| {r['neurons']} | {r['depth']} | {r['regions_median']:.0f} ({r['regions_q25']:.0f}–{r['regions_q75']:.0f}) "
                  f"| {r['regions_over_n2']:.3f} |")
    dw = ", ".join(f"L = {d['L']}: {d['deep_pieces']} against {d['shallow_pieces']}" for d in g["depth_vs_width"])
    tr = g["training"]
    b = _bench("bench_regions.py")
    bench = ["| net | regions | `actlab.regions` (median) | first call | 512² grid of patterns: time | patterns it sees |", "|---|---:|---:|---:|---:|---:|"]
    for r in b["rows"]:
        bench.append(f"| {r['net']} | {r['regions']:,} | {1e3 * r['median_s']:.1f} ms | {1e3 * r['first_s']:.1f} ms "
                     f"| {1e3 * r['grid_s']:.0f} ms ({r['grid_s'] / r['median_s']:.2f}×) | {r['grid_count']:,} |")
    return "\n".join([
        f"`actlab regions --json --out DIR` took **{wall:.0f} s** as a whole command in a fresh process (imports and figures "
        "included; " + ", ".join(f"{k} {v:.1f} s" for k, v in g["seconds"].items()) + "), 2 CPU cores.", "",
        f"The article's 2-4-1 XOR nets, {g['xor'][0]['n_seeds']} seeds each, regions in [−0.5, 1.5]² (median, quartiles):", "", *xor, "",
        f"Depth against width, pieces of [0, 1] (sawtooth against one layer of 2L ReLUs): {dw}.", "",
        f"Regions at initialisation in [−1, 1]², {g['hanin_rolnick'][0]['regions_n']} seeds each (torch's default initialisation):", "", *hr, "",
        f"During training (2-{'-'.join(map(str, tr['layers']))}-1 ReLU on {tr['dataset']}, Adam, {len(tr['steps']) - 1} checkpoints): "
        f"median {tr['median'][0]:.0f} regions at step 0, {max(tr['median']):.0f} at most, {tr['median'][-1]:.0f} at step {tr['steps'][-1]}.", "",
        f"`python benchmarks/bench_regions.py` ({b['threads']} threads, medians of {b['repeats']} calls in one process):", "", *bench,
    ])


# the numbers the article printed (its dense, conv and RNN scripts' OLS fits; its XOR runs: one seed each)
ARTICLE = {"dense": (0.999999999999102, 1.77e-14), "conv": (0.99999999997931, 7.4e-16), "rnn": (0.99999999997490, 5.49e-08)}


def _json_of(*args: str) -> tuple[object, float]:
    """`actlab ARGS --json` in a fresh process: its JSON and its wall time."""
    actlab = str(Path(sys.executable).with_name("actlab"))
    t0 = time.perf_counter()
    out = subprocess.run([actlab, *args, "--json"], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout), time.perf_counter() - t0


def article_block() -> str:
    """The article's numbers beside actlab's: `actlab collapse --arch all` (seed 0) and `actlab xor` over 2,000 seeds."""
    nets, t_nets = _json_of("collapse", "--arch", "all")
    xor, t_xor = _json_of("xor", "--activations", "linear,sigmoid,relu,tanh", "--seeds", "2000")
    rows = ["| claim | the article (one draw, one run) | actlab (measured) |", "|---|---|---|"]
    for r in nets:
        r2, mse = ARTICLE[r["arch"]]
        rows.append(f"| a random {r['arch']} net without activations is linear ({r['summary']}) | OLS r² {r2!r}, MSE {mse:.3g} "
                    f"| OLS r² {r['ols_r2']!r}, MSE {r['ols_mse']:.3g}; exact collapse: rank {r['rank']}, residual "
                    f"{r['residual']:.1e} ≤ {r['tolerance']:.1e} ({r['verdict']}) |")
    art = {"linear": "stays at 0.5 everywhere: no fit", "sigmoid": "solves it", "relu": "solves it", "tanh": "(not shown)"}
    for name, a in xor["activations"].items():
        lo, hi = a["success_ci"]
        rows.append(f"| 2-4-1 with {name} on XOR | {art[name]} | solved in {100 * a['success_rate']:.1f} % of {a['n_seeds']:,} seeds "
                    f"(95 % CI {100 * lo:.1f}–{100 * hi:.1f} %), median final MSE {a['final_mse_median']:.3g} |")
    return "\n".join([f"(`actlab collapse --arch all --json` in {t_nets:.1f} s and `actlab xor --activations "
                      f"linear,sigmoid,relu,tanh --seeds 2000 --json` in {t_xor:.1f} s, whole commands on 2 cores of {_cpu()}; "
                      "`python benchmarks/make_figures.py --only article`.)", "", *rows])


def kernel_layout_block() -> str:
    """benchmarks/bench_kernel_layout.py: each build of the fused step on the same set-ups, interleaved."""
    d = _bench("bench_kernel_layout.py")
    med = d["medians"]
    builds = list(dict.fromkeys(b for row in med.values() for b in row))
    rows = ["| set-up | " + " | ".join(builds) + " |", "|---|" + "---:|" * len(builds)]
    for case, row in med.items():
        base = row.get(builds[0])
        cells = [f"{row[b]:,.1f} ({row[b] / base:.2f}×)" if b in row and base else "" for b in builds]
        rows.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join([f"(`python benchmarks/bench_kernel_layout.py` on {_cpu()}, {os.cpu_count()} cores: epochs/s of the "
                      "engine alone, medians of 5 interleaved rounds; ratios to the first build in the same rounds.)", "", *rows])


def demo_block() -> str:
    from bench_demo import measure

    d = measure()
    f, q = d["full"], d["quick"]
    split = ", ".join(f"{k} {v:.1f}" for k, v in f["sections"].items())
    return (f"`actlab demo` takes {f['wall']:.0f} s and `actlab demo --quick` {q['wall']:.1f} s on 2 cores of "
            f"{d['cpu']} (whole commands in fresh processes, imports included; the full demo once, --quick the median "
            f"of {q['runs']}: `python benchmarks/bench_demo.py`, which `make figures` runs). Per section of the full "
            f"demo, in seconds: {split}; the rest is start-up, imports and writing the page.")


def collapse_block() -> str:
    d = _bench("bench_collapse.py", "--repeats", "3")
    rows = ["| arch | OLS s | collapse, cold (first call in a process) | collapse, warm | building W, b (no certificate) | certificate | OLS max rel err | collapse max rel err | method |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in d["rows"]:
        rows.append(f"| {r['arch']} | {r['ols_seconds']:.2f} | {1e3 * r['cold_seconds']:.0f} ms — {r['cold_ratio']:,.0f}× "
                    f"| {1e3 * r['warm_seconds']:.1f} ms — {r['warm_ratio']:,.0f}× | {1e3 * r['collapse_seconds']:.1f} ms — "
                    f"{r['speedup']:,.0f}× | {1e3 * r['certify_seconds']:.1f} ms | {r['ols_max_rel_error']:.1e} "
                    f"| {r['collapse_max_rel_error']:.1e} | {r['collapse_method']} |")
    first = ", ".join(f"{r['arch']} {1e3 * r['first_after_ols_seconds']:.0f} ms" for r in d["rows"])
    return "\n".join([f"(`python benchmarks/bench_collapse.py --repeats 3`, torch {d['torch']}, {d['threads']} threads, "
                      "float64; ratios are the same run's OLS over the collapse figure. Warm: the median of 15 calls, "
                      "5 per round, each round timed after 0.2 s of untimed calls that follow its OLS — the first call "
                      f"right after the OLS's numpy work took {first}.)", "", *rows])


def xor_command_block() -> str:
    d = _bench("bench_xor_command.py")
    return (f"`python benchmarks/bench_xor_command.py`: `actlab xor --activations relu --seeds 10000 --steps 1000 --json` "
            f"takes {d['actlab_command_s']:.2f} s as a whole process; a plain batched loop (per-seed parameters as batched "
            f"tensors, autograd, torch.optim.Adam; benchmarks/plain_xor_loop.py) takes {d['plain_loop_s']:.2f} s on the same "
            f"work — {d['ratio']:.2f}×. Of actlab's run, training without any recording takes {d['train_bare_s']:.2f} s, with "
            f"the command's loss history, stopping and tracked seed {d['train_recorded_s']:.2f} s; the statistics "
            f"{d['statistics_s']:.2f} s.")


def train_block() -> str:
    d = _bench("bench_train.py")
    return "\n".join([
        f"(`python benchmarks/bench_train.py`, torch {d['torch']}, {d['threads']} CPU threads; XOR 2-4-1, Adam, 1,000 steps, float32.)",
        "",
        "| what | figure |",
        "|---|---:|",
        f"| per-seed loop (nn.Sequential + torch.optim.Adam), relu, scaled to 1,000 seeds | {d['loop_seconds_1000_seeds']:.0f} s |",
        f"| batched, relu, S = 1,000 | {d['batched_1000']['seconds']:.2f} s — {d['speedup_vs_loop']:,.0f}× the loop |",
        f"| batched, relu, S = 10,000 | {d['cpu']['net_steps_per_s']:.2g} net-steps/s |",
        f"| batched, tanh, S = 10,000 | {d['cpu_tanh']['net_steps_per_s']:.2g} net-steps/s |",
    ])


def audit_block() -> str:
    rows = _bench("bench_audit.py")
    out = ["| model | input | forward | audit cold | audit warm | first nonlinear | map (on access) |",
           "|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        first = "— (affine)" if r["is_affine"] else r["first_nonlinear"]
        map_s = "" if r["map_s"] is None else f"{r['map_s']:.1f} s"
        out.append(f"| {r['model']} | {'×'.join(map(str, r['input']))} | {1e3 * r['forward_s']:.1f} ms | "
                   f"{1e3 * r['audit_cold_s']:.0f} ms ({r['ratio_cold']:.0f}×) | {1e3 * r['audit_warm_s']:.0f} ms "
                   f"({r['ratio_warm']:.0f}×) | {first} | {map_s} |")
    return "\n".join(["(`python benchmarks/bench_audit.py`, batch 8, float32 models, fresh process per model.)", "", *out])


def fold_block() -> str:
    d = _bench("bench_fold.py")
    rows, res = d["rows"], d["resnet18"]
    dense = (f"- the article's largest dense network ({d['layers_before']} modules) folds into {d['layers_after']}; FLOPs fall "
             f"{d['flop_ratio']:.0f}×, inference time " + ", ".join(
                 f"{r['speedup']:.0f}× at batch {r['batch']:,} ({r['speedup_over_flop_ratio']:.2f} of the FLOP ratio)" for r in rows) + ";")
    resnet = (f"- ResNet-18 (src/actlab/zoo.py, 3×64×64): {res['bn_original']} BatchNorms → {res['bn_actlab']} with `actlab.fold` "
              f"and {res['bn_fx']} with `torch.fx.experimental.optimization.fuse` of the same model in the same run; inference "
              + ", ".join(f"at batch {r['batch']}: original {r['original_ms']:.1f} ms, fold {r['actlab_ms']:.1f} ms, fuse "
                          f"{r['fx_ms']:.1f} ms (fold/fuse {r['actlab_ms'] / r['fx_ms']:.2f})" for r in res["rows"])
              + f"; largest relative error against the original run in float64: fold {res['err_actlab']:.1e}, fuse "
              f"{res['err_fx']:.1e} (the float32 original itself: {res['err_original']:.1e}). `fold` takes "
              f"{res['fold_seconds']:.2f} s (every merge and the whole model checked in float64), `fuse` {res['fuse_seconds']:.2f} s.")
    zoo = ["| model | FLOPs per sample: original → fold | fx fuse | parameters: original → fold | time (batch 8): original → fold | fx fuse | error: fold | fx fuse |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in d["zoo"]:
        fx = ("not traceable", "—", "—") if r["fx_flops"] is None else (f"{r['fx_flops']:,}", f"{r['fx_ms']:.2f} ms", f"{r['err_fx']:.1e}")
        zoo.append(f"| {r['model']} | {r['flops']:,} → {r['fold_flops']:,} | {fx[0]} | {r['params']:,} → {r['fold_params']:,} "
                   f"| {r['original_ms']:.2f} → {r['fold_ms']:.2f} ms | {fx[1]} | {r['err_fold']:.1e} | {fx[2]} |")
    shared = (f"- one conv called on two paths, once followed by a BatchNorm: error against the original "
              f"{d['shared_conv']['err_fold']:.1e} after `actlab.fold` (a merged layer for the BatchNorm path, the "
              f"original conv kept for the other), {d['shared_conv']['err_fx']:.1e} after `fuse` (the BatchNorm merged "
              "into the shared conv changes both paths).")
    return "\n".join(["(`python benchmarks/bench_fold.py`, 2 CPU cores, float32, medians of 7.)", "", dense, resnet, shared,
                      "", "The zoo (errors: largest relative difference from the original run in float64):", "", *zoo])


def play_block() -> str:
    import bench_play as bp  # its targets (this folder is on sys.path when the script runs)
    from actlab.play.server import CHUNK_STEPS

    d = _bench("bench_play.py", "--screenshot", str(IMG / "playground.png"))
    s = d["setups"]
    lines = [f"`python benchmarks/bench_play.py` ({d['threads']} CPU threads of {d['machine']}; medians of {d['repeats']} runs of {d['seconds']:g} s; "
             "100 seeds asked for; the page is headless Chromium on the same 2 cores as the server):", "",
             "| set-up | engine alone: fused C step | torch step | server, a client that draws nothing | page: epochs/s (each run) | frames/s drawn | target |",
             "|---|---:|---:|---:|---:|---:|---|"]
    names = {"default": "2-4-2-1 tanh, circle, SGD (TensorFlow Playground's default)",
             "spiral": "3 × 8 ReLU vs tanh, spiral, Adam",
             "wide": f"8 × 64 ReLU, spiral, Adam ({s.get('wide', {}).get('parts', {}).get('seeds', '?')} seeds: the cap of seeds × parameters)"}
    num = lambda r: f"{r:,.0f}" if r >= 10 else f"{r:.1f}"  # noqa: E731
    for key, row in s.items():
        p, sv = row["page"], row["server"]
        runs = [p["epochs_per_s"]] + ([p["compare_epochs_per_s"]] if p["compare_epochs_per_s"] is not None else [])
        fused = num(row["fused"]) if row["fused"] is not None else "not covered"
        target = (f"≥ {bp.TARGETS[key][0]} at ≥ {bp.TARGETS[key][1]:g} f/s: {'met' if min(runs) >= bp.TARGETS[key][0] and p['fps'] >= bp.TARGETS[key][1] else 'NOT met'}"
                  if key in bp.TARGETS else f"≥ the bmm bound {row['bmm_bound']:.1f}: {'met' if min(runs) >= row['bmm_bound'] else 'NOT met'}")
        lines.append(f"| {names[key]} | {fused} | {row['torch']:.1f} | {num(sv['epochs_per_s'])} at {sv['fps']:.0f} f/s | "
                     f"{' / '.join(num(r) for r in runs)} | {p['fps']:.1f} | {target} |")
    if "default" in s and s["default"].get("plain"):
        lines += ["", f"The same 100 default networks trained one after another the plain way (nn.Sequential + torch.optim.SGD): "
                  f"{s['default']['plain']:.2f} epochs/s — the fused step is {s['default']['fused'] / s['default']['plain']:,.0f}× that; "
                  "TensorFlow Playground trains one network at ≤ 60 epochs/s."]
    if "wide" in s:
        w, parts = s["wide"], s["wide"]["parts"]
        lines += ["", f"8 × 64, where the time goes: the batched-matmul bound ({w['bmm_bound']:.1f} epochs/s) is torch's three `bmm` "
                  f"a layer alone, without Adam's update of every parameter; the whole fused step, Adam included, runs at "
                  f"{w['fused'] / w['bmm_bound']:.2f}× it, and with SGD instead of Adam at {w['fused_sgd']:.1f} epochs/s "
                  f"({w['fused_sgd'] / w['bmm_bound']:.2f}×): Adam's update, which reads and writes each weight's two moments every step, "
                  f"takes {1 - w['fused'] / w['fused_sgd']:.0%} of the step. In the server, a frame costs {parts['frame_ms']:.1f} ms, the statistics "
                  f"{parts['stats_ms']:.0f} ms ({parts['strip_ms']:.0f} ms with the strip), and frames come at most every "
                  f"{CHUNK_STEPS} minibatch steps: {w['server']['epochs_per_s'] / w['fused']:.0%} of the engine's speed with a client that draws "
                  f"nothing. The browser drawing it on the same 2 cores takes the rest: "
                  f"{w['page']['epochs_per_s'] / w['fused']:.0%} of the engine's speed in the page."]
    return "\n".join(lines)


def play_static_block() -> str:
    """benchmarks/bench_play.py --static: the static page beside the served one, in the same run."""
    d = _bench("bench_play.py", "--static")
    lines = [f"`python benchmarks/bench_play.py --static` ({d['machine']}; {d['threads']} cores shared by headless Chromium and, "
             f"for the served page, its server; medians of {d['repeats']} runs of {d['seconds']:g} s, the two pages alternately):", "",
             "| set-up | served page: epochs/s (each run) | frames/s | static page: epochs/s (each run) | frames/s | static ÷ served | target |",
             "|---|---:|---:|---:|---:|---:|---|"]
    names = {"default": "2-4-2-1 tanh, circle, SGD, 100 seeds (TensorFlow Playground's default)",
             "spiral": "3 × 8 ReLU vs tanh, spiral, Adam, 100 seeds", "wide": "8 × 64 ReLU, spiral, Adam, 64 seeds"}
    each = lambda p: min(x for x in (p["epochs_per_s"], p["compare_epochs_per_s"]) if x is not None)  # noqa: E731
    num = lambda r: f"{r:,.0f}" if r >= 10 else f"{r:.1f}"  # noqa: E731
    for key, row in d["setups"].items():
        sv, st = row["served"], row["static"]
        if key in d["targets"]:
            eps, fps = d["targets"][key]
            target = f"≥ {eps:,} at ≥ {fps} f/s: {'met' if each(st) >= eps and st['fps'] >= fps else 'NOT met'}"
        else:
            target = f"≥ half the served page's: {'met' if each(st) >= 0.5 * each(sv) else 'NOT met'}"
        lines.append(f"| {names[key]} | {num(each(sv))} | {sv['fps']:.1f} | {num(each(st))} | {st['fps']:.1f} | "
                     f"{each(st) / each(sv):.2f} | {target} |")
    alone = d["setups"].get("wide", {}).get("alone")
    if alone:
        n, native = alone["threads"], alone[f"native_{alone['threads']}"]
        lines += ["", f"What bounds the wide row, the engines alone (no page drawing, the same run): the served page's native "
                  f"step {alone['native_1']:.1f} epochs/s on 1 thread and {native:.1f} on {n}; the static page's WebAssembly step "
                  f"{alone['wasm_1']:.1f} on one thread of Chromium — a core runs it {alone['native_1'] / alone['wasm_1']:.1f}× slower, "
                  f"so the page's {n} Workers reach at most {n * alone['wasm_1'] / native:.2f}× the served engine, short of the "
                  "target's half before either page draws a frame."]
    ff = d["first_frame"]
    lines += ["", f"The static page is one file of {d['size'] / 1024:.0f} KB, its WebAssembly included (target ≤ 250 KB). Its first frame "
              f"is drawn {ff['first_frame_ms']:.0f} ms after the navigation starts, {ff['first_frame_ms'] - ff['load_ms']:.0f} ms after "
              "the load event (target ≤ 1 s; medians of 5 loads from the static server on loopback)."]
    return "\n".join(lines)


BLOCKS = {"article": article_block, "xor": xor_block, "regions": regions_block, "dynamics": dynamics_block, "demo": demo_block, "collapse": collapse_block, "xor-command": xor_command_block,
          "train": train_block, "audit": audit_block, "fold": fold_block,
          "play": play_block, "kernels": kernels_block, "kernels-speed": kernels_speed_block, "signal": signal_block,
          "signal-speed": signal_speed_block, "sweep": sweep_block, "kernel-layout": kernel_layout_block,
          "play-static": play_static_block}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--skip-bench", action="store_true", help="figures and the xor block only")
    p.add_argument("--only", nargs="+", choices=list(BLOCKS), help="regenerate these blocks only")
    args = p.parse_args()
    names = args.only or (["xor"] if args.skip_bench else list(BLOCKS))
    for name in names:
        print(f"figures: {name} …", file=sys.stderr, flush=True)
        body = BLOCKS[name]()
        if not CPU_NAMED.search(body):  # every block says where it was measured
            body += f"\n\n(Measured on {_cpu()}, {os.cpu_count()} cores.)"
        pattern = re.compile(rf"(<!-- figures:{re.escape(name)} -->\n).*?(<!-- /figures:{re.escape(name)} -->)", re.S)
        pages = [p for p in PAGES if pattern.search(p.read_text(encoding="utf-8"))]
        if not pages:
            raise SystemExit(f"no page of README.md or docs/ has the block <!-- figures:{name} --> … <!-- /figures:{name} -->")
        for page in pages:  # a block may appear on several pages (the README quotes a few)
            text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), page.read_text(encoding="utf-8"))
            tmp = page.with_name(f".{page.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(page)  # after each block, atomically: an interrupted run keeps what it measured
    return 0


if __name__ == "__main__":
    sys.exit(main())
