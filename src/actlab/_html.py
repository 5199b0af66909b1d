"""How actlab's results show themselves in a notebook: ``_repr_html_`` bodies built from plain
HTML and inline SVG (no matplotlib, so displaying a result imports nothing more; the figures
of reports and commands are in ``actlab.viz``).

Each ``*_html`` function takes a result object and returns one self-contained ``<div>``.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable, Sequence

__all__ = ["affine_map_html", "affine_check_html", "audit_html", "xor_html", "regions_html", "dynamics_html", "kernels_html"]

_STYLE = "font-family:system-ui,sans-serif;font-size:13px;line-height:1.4"
_OK, _BAD, _UNDECIDED = "#1a7f37", "#cf222e", "#9a6700"
HEATMAP_MAX = 64  # W is drawn cell by cell when both its sides are at most this


def esc(x: Any) -> str:
    return html.escape(str(x))


def num(x: float | None, fmt: str = ".2g") -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def box(title: str, *parts: str) -> str:
    return (f'<div style="{_STYLE}"><div style="font-weight:600;margin-bottom:4px">{title}</div>'
            + "".join(parts) + "</div>")


def verdict(affine: bool | None, yes: str = "affine", no: str = "not affine") -> str:
    if affine is None:
        return f'<span style="color:{_UNDECIDED}">undecided</span>'
    return f'<span style="color:{_OK if affine else _BAD};font-weight:600">{yes if affine else no}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], highlight: int | None = None) -> str:
    """A compact table; cells are HTML already (escape text with ``esc``)."""
    cell = 'style="padding:1px 8px;text-align:left;border-bottom:1px solid #ddd"'
    head = "".join(f"<th {cell}>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        bg = ' style="background:#fff3b0"' if i == highlight else ""
        body.append(f"<tr{bg}>" + "".join(f"<td {cell}>{c}</td>" for c in row) + "</tr>")
    return f'<table style="border-collapse:collapse;margin:4px 0"><tr>{head}</tr>{"".join(body)}</table>'


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """name: value lines (values are HTML)."""
    return "".join(f"<div><span style='color:#666'>{esc(k)}:</span> {v}</div>" for k, v in pairs)


def _diverging(v: float, vmax: float) -> str:
    """Blue (negative) – white – red (positive)."""
    t = 0.0 if vmax == 0 else max(-1.0, min(1.0, v / vmax))
    a = int(255 * (1 - abs(t)))
    return f"rgb(255,{a},{a})" if t > 0 else f"rgb({a},{a},255)"


def heatmap(w, cell: int = 8, label: str = "W") -> str:
    """A matrix (m, d) as an SVG grid, symmetric colour scale, when both sides are ≤ HEATMAP_MAX."""
    m, d = w.shape
    if m > HEATMAP_MAX or d > HEATMAP_MAX:
        return f"<div style='color:#666'>{esc(label)} is {m} × {d}: too large to draw cell by cell</div>"
    vals = w.detach().cpu().double().tolist()
    vmax = max((abs(v) for row in vals for v in row), default=0.0)
    rects = "".join(f'<rect x="{j * cell}" y="{i * cell}" width="{cell}" height="{cell}" fill="{_diverging(v, vmax)}">'
                    f"<title>{esc(label)}[{i},{j}] = {v:.4g}</title></rect>" for i, row in enumerate(vals) for j, v in enumerate(row))
    return (f'<svg width="{d * cell}" height="{m * cell}" style="border:1px solid #ccc">{rects}</svg>'
            f"<div style='color:#666'>{esc(label)}, blue negative, red positive, |max| = {vmax:.3g}</div>")


def bars(labels: Sequence[str], values: Sequence[float], intervals: Sequence[tuple[float, float]], width: int = 260) -> str:
    """Horizontal bars in [0, 1] with interval whiskers (success rates with their 95 % CIs)."""
    h, left = 16, 110
    parts = []
    for i, (lab, v, (lo, hi)) in enumerate(zip(labels, values, intervals)):
        y = i * h
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" font-size="11">{esc(lab)}</text>'
                     f'<rect x="{left}" y="{y + 3}" width="{v * width:.1f}" height="{h - 6}" fill="#4c78a8"/>'
                     f'<line x1="{left + lo * width:.1f}" x2="{left + hi * width:.1f}" y1="{y + h / 2}" y2="{y + h / 2}" '
                     f'stroke="#222" stroke-width="1.5"/><text x="{left + width + 6}" y="{y + 12}" font-size="11">{v:.1%}</text>')
    total_h = h * len(labels)
    axis = f'<line x1="{left}" x2="{left}" y1="0" y2="{total_h}" stroke="#999"/>'
    return f'<svg width="{left + width + 50}" height="{total_h + 2}">{axis}{"".join(parts)}</svg>'


def lines(series: Sequence[tuple[Sequence[float], Sequence[float], str, bool]], width: int = 320, height: int = 150) -> str:
    """Line plots (x, y, colour, dashed) on shared axes."""
    xs = [v for x, _, _, _ in series for v in x]
    ys = [v for _, y, _, _ in series for v in y if v is not None and math.isfinite(v)]
    if not xs or not ys:
        return ""
    x0, x1, y0, y1 = min(xs), max(xs), min(0.0, min(ys)), max(ys)
    sx = (width - 10) / ((x1 - x0) or 1)
    sy = (height - 10) / ((y1 - y0) or 1)
    out = []
    for x, y, colour, dashed in series:
        pts = " ".join(f"{5 + (a - x0) * sx:.1f},{height - 5 - (b - y0) * sy:.1f}" for a, b in zip(x, y)
                       if b is not None and math.isfinite(b))
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>')
    return f'<svg width="{width}" height="{height}" style="border:1px solid #ddd">{"".join(out)}</svg>'


_PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"]


# ---------------------------------------------------------------------------- the results


def affine_map_html(m) -> str:
    cert = ("not verified" if m.residual is None else
            f"{verdict(m.verified, 'certified', 'not certified')}: residual {num(m.residual, '.1e')} "
            f"{'≤' if m.verified else '>'} tolerance {num(m.tolerance, '.1e')} ({esc(m.precision)})")
    info = facts([("shape", f"{esc(m.out_shape)} ← {esc(m.in_shape)}, W {m.out_features} × {m.in_features}"),
                  ("rank", str(m.rank())), ("certificate", cert),
                  ("built", f"{esc(m.method)} in {m.seconds * 1e3:.1f} ms"),
                  *([("folded first", esc(", ".join(m.folded)))] if m.folded else [])])
    return box("AffineMap: x ↦ W·x + b", info, heatmap(m.weight))


def affine_check_html(c) -> str:
    info = facts([("verdict", verdict(c.is_affine)), ("residual", f"{num(c.residual, '.2e')} (tolerance {num(c.tolerance, '.1e')}, "
                  f"{esc(c.precision)})"), ("combination test", num(c.combination_residual, ".2e")),
                  ("map test", num(c.map_residual, ".2e")), ("domain", esc(c.domain))])
    return box("AffineCheck", info, f"<div style='margin-top:4px'>{esc(c.message)}</div>")


def audit_html(r) -> str:
    """The module (or ONNX node) tree with verdicts; the first owner highlighted."""
    flat, first = r.of_graph, r.first_row
    rows, hi = [], None
    for i, row in enumerate(r.rows):
        if not r.is_affine and first and row.name == first and hi is None:
            hi = i
        short = row.name if flat else row.name.rpartition(".")[2]
        name = "&nbsp;" * 3 * row.depth + esc(short) if row.name else "(model)"
        src = f" <span style='color:#666'>({esc(row.source)})</span>" if row.source else ""
        rows.append([name + src, esc(row.type), verdict(row.affine), num(row.residual, ".1e"), esc(row.reason)])
    head = (verdict(True) + f" on the probed domain (residual {num(r.residual, '.1e')})" if r.is_affine else
            verdict(False) + f": first nonlinear = <b>{esc(r.first_nonlinear or '(model, unattributed)')}</b>")
    kind = "nodes" if flat else "modules"
    return box(f"AuditReport — {len(r.rows)} {kind}, {r.seconds:.2f} s", f"<div>{head}</div>",
               table(["name", "type", "verdict", "residual", "why"], rows, highlight=hi),
               *([f"<div style='color:#666'>note: {esc(r.note)}</div>"] if r.note else []),
               f"<div style='color:#666'>probed domain: {esc(r.domain)}</div>")


def xor_html(res) -> str:
    """The activations' table and their success rates with 95 % intervals."""
    stats = list(res.activations.values())
    rows = [[esc(s.name), f"{s.n_success:,} / {s.n_seeds:,}", f"{s.success_rate:.1%}",
             f"[{s.success_ci[0]:.1%}, {s.success_ci[1]:.1%}]", num(s.accuracy_median, ".2f"),
             num(s.steps_to_hit.get("median"), ".0f"), str(s.diverged)] for s in stats]
    cfg = res.config
    return box(f"XOR lab — {len(stats)} activations × {cfg.n_seeds:,} seeds, {esc(cfg.dataset)}",
               table(["activation", "solved", "rate", "95 % CI", "accuracy (median)", "steps to 1e-3 (median)", "diverged"], rows),
               bars([s.name for s in stats], [s.success_rate for s in stats], [tuple(s.success_ci) for s in stats]))


def regions_html(rm, size: int = 260) -> str:
    """The regions drawn in the box, coloured, with the decision boundary at 0 of output 0."""
    a0, a1, b0, b1 = rm.bounds
    sx, sy = size / (a1 - a0), size / (b1 - b0)

    def path(poly) -> str:
        return " ".join(f"{(x - a0) * sx:.1f},{size - (y - b0) * sy:.1f}" for x, y in poly)

    shown = rm.polygons[:5000]
    polys = "".join(f'<polygon points="{path(p)}" fill="{_PALETTE[i % len(_PALETTE)]}" fill-opacity="0.45" '
                    f'stroke="#fff" stroke-width="0.5"/>' for i, p in enumerate(shown))
    level = "".join(f'<polyline points="{path(line)}" fill="none" stroke="#000" stroke-width="1.5"/>' for line in rm.boundary(0.0))
    info = facts([("regions", f"{rm.count:,}" + (f" (first {len(shown):,} drawn)" if rm.count > len(shown) else "")),
                  ("box", esc(rm.bounds)), ("computed in", f"{rm.seconds * 1e3:.0f} ms"),
                  ("output 0 = 0 crosses", f"{rm.crossed(0.0)} regions (black line)")])
    return box("RegionMap — exact linear regions", info, f'<svg width="{size}" height="{size}" style="border:1px solid #ccc">{polys}{level}</svg>')


def dynamics_html(d) -> str:
    """Saxe et al.'s modes (measured solid, closed form dashed) and the XOR init grid's summary."""
    modes = d.saxe["modes"]
    series = []
    for i, m in enumerate(modes):
        c = _PALETTE[i % len(_PALETTE)]
        series += [(m["t"], m["measured"], c, False), (m["t"], m["analytic"], c, True)]
    rows = [[f"{m['s']:g}", f"{m['r2']:.5f}", num(m["half_time_measured"], ".1f"), num(m["half_time_predicted"], ".1f"),
             f"{m['single_exponential_r2']:.2f}"] for m in modes]
    return box("Deep-linear dynamics — a linear map, learned in stages",
               table(["mode s", "R² vs closed form", "half-time measured", "predicted", "best single exponential R²"], rows),
               lines(series),
               facts([("collapse at every checkpoint", f"max residual {num(d.saxe['collapse_residual_max'], '.1e')} over "
                       f"{d.saxe['n_checkpoints']} checkpoints"),
                      ("XOR nets trained", f"{d.to_dict()['n_xor_nets']:,}")]))


def kernels_html(k) -> str:
    """Each activation's NNGP as a heatmap, the convergence of real nets to it, kernel regression
    beside trained nets and the approximation of |x| against the best quadratic."""
    import torch

    ranks = {(r["activation"], r["depth"]): r["rank"] for r in k.ranks}
    depth = k.example["depth"]
    maps = "".join(f'<div style="display:inline-block;margin-right:10px;vertical-align:top">'
                   f'<div>{esc(a)} (rank {ranks.get((a, depth), "—")})</div>{heatmap(torch.tensor(v), cell=5, label="K")}</div>'
                   for a, v in k.example["kernels"].items())
    widths = sorted({r["width"] for r in k.convergence})
    conv = {(r["activation"], r["width"]): r["rel_error"] for r in k.convergence}
    names = list(dict.fromkeys(r["activation"] for r in k.convergence))
    conv_rows = [[a, *(num(conv[(a, w)], ".3f") for w in widths)] for a in names]
    reg_rows = [[r["dataset"], r["activation"], f"{r['accuracy_kernel']:.1%}", f"{r['accuracy_trained']:.1%}"]
                for r in k.regression]
    best = {}
    for r in k.approximation:
        best[r["activation"]] = min(best.get(r["activation"], math.inf), r["error"])
    return box(f"Infinite width — the kernel each activation makes (depth {depth})",
               maps,
               table(["relative error of real nets' NNGP", *(f"width {w}" for w in widths)], conv_rows),
               table(["task", "activation", "NNGP regression", "trained nets (median)"], reg_rows),
               facts([(f"best error on {esc(k.approximation_target)}",
                       ", ".join(f"{esc(a)} {v:.1e}" for a, v in best.items())),
                      ("best quadratic", f"{k.polynomial_floor:.1e}")]))


def signal_html(s) -> str:
    """The mean-field quantities of one activation and initialisation."""
    colour = {"ordered": "#4c78a8", "chaotic": _BAD, "critical": _OK}[s.phase]
    return box(f"Signal propagation — {esc(s.activation)}, σ_w² = {s.sigma_w2:g}, σ_b² = {s.sigma_b2:g}: "
               f'<span style="color:{colour}">{s.phase}</span>',
               facts([("q* (variance fixed point)", num(s.q_star, ".4g") if math.isfinite(s.q_star) else "∞ (diverges)"),
                      ("c* (correlation fixed point)", num(s.c_star, ".4g")),
                      ("χ₁ (gradient growth per layer)", num(s.chi1, ".4g")),
                      ("ξ_q, ξ_c (depth scales)", f"{num(s.xi_q, '.3g')}, {'∞' if math.isinf(s.xi_c) else num(s.xi_c, '.3g')}")]))


def signal_study_html(r: dict) -> str:
    """``actlab signal``'s result: the phase diagram as a table, the worst gradient ratio and the
    Jacobian spectra beside their predictions."""
    pd = r["phase_diagram"]
    rows = [[f"{w2:g}", "∞" if xi is None else num(xi, ".3g"),
             *(f"{f:.2f}" + ("" if ok else "*") for f, ok in zip(pd["trained"][i], pd["predicted_trainable"][i]))]
            for i, (w2, xi) in enumerate(zip(pd["sigma_w2"], pd["xi_c"]))]
    grads = {}
    for g in r["gradients"]:
        key = f"{g['activation']} {g['init']}"
        grads[key] = max(grads.get(key, 1.0), g["measured"] / g["predicted"], g["predicted"] / g["measured"])
    iso = [[x["activation"], x["init"], str(x["depth"]), num(x["variance"], ".3g"), num(x["predicted_variance"], ".3g")]
           for x in r["isometry"]]
    return box(f"Signal through depth — {esc(pd['activation'])}, σ_b² = {pd['sigma_b2']:g}: fraction of {pd['seeds']} seeds "
               f"trained (* deeper than 6 ξ_c)",
               table(["σ_w²", "ξ_c", *(f"L={d}" for d in pd["depths"])], rows),
               facts([("6 ξ_c right in", f"{pd['agreement']:.0%} of cells"),
                      ("gradients: worst measured/χ₁^(L−l)", ", ".join(f"{esc(k)} {v:.2f}" for k, v in grads.items()))]),
               table(["activation", "weights", "depth", "var. of J Jᵀ's eigenvalues", "predicted"], iso))
