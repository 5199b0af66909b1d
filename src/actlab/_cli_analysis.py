"""``actlab audit``, ``actlab fold`` and ``actlab hidden``: parse, call, print."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ._cli_args import _console, _int_list, _nonneg_int, _num, _positive_int


def _shape(value: str) -> tuple[int, ...]:
    return _int_list(value, "shape entries (without the batch)", "3,32,32")


def _bytes(value: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    v = value.strip().lower().removesuffix("b").removesuffix("i")
    try:
        n = float(v[:-1]) * units[v[-1]] if v and v[-1] in units else float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in bytes such as 4G, 512M or 1000000, got {value!r}") from None
    if not n > 0 or n != n or n == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive size in bytes, got {value!r}")
    return int(n)


def _add_audit(sub) -> None:
    p = sub.add_parser(
        "audit",
        help="where does a model's nonlinearity live? per-module verdicts, and folding of affine stacks",
        description=(
            "Run MODEL once on a random batch of --input-shape and judge every module on the inputs it received "
            "(the combination test f(αX + (1−α)Y) = αf(X) + (1−α)f(Y), with Y another data row nudged by 0.1 "
            "standard deviations). Known-affine layers (Linear, convolutions, eval BatchNorm, average pools) "
            "and modules with a nonlinear child are decided without a test; the whole model is always tested. "
            "Prints the module tree with verdicts, residuals and reasons, and names the first owner of a "
            "nonlinearity in execution order — a module, or a torch.fx node such as 'relu' inside a forward. "
            "An affine model is collapsed into one map on the inputs. A few forward passes of the model in "
            "float64: seconds for a ResNet-18.\n\n"
            "MODEL is a factory 'package.module:function' (importable from the current folder), a "
            "torch.export file (.pt2), a TorchScript file, an ONNX file (.onnx: each node judged alone in "
            "onnxruntime, at the graph's precision; needs pip install 'actlab[onnx]') or hf:FOLDER, a Hugging Face "
            "model folder (config.json + weights; needs transformers; fed inputs_embeds or pixel_values). "
            "Pickles are refused unless --trust-pickle: loading one runs code."
        ),
        epilog=(
            "examples:\n"
            "  actlab audit actlab.zoo:resnet18 --input-shape 3,64,64 --batch 8\n"
            "  actlab audit resnet18.onnx --batch 8\n"
            "  actlab audit hf:./my-bert --input-shape 16,768\n"
            "  actlab audit actlab.zoo:resnet18_affine --input-shape 3,64,64 --batch 8 --fold folded.pt2\n"
            "  actlab audit actlab.zoo:gpt --input-shape 64,128 --json > audit.json\n"
            "  actlab audit model.pt2 --input-shape 16 --max-bytes 512M"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="package.module:function, FILE.pt2, FILE.onnx, hf:FOLDER or a TorchScript file")
    p.add_argument("--input-shape", type=_shape, default=None,
                   help="one input's shape, without the batch (e.g. 3,32,32); an .onnx or hf: model declares its own")
    p.add_argument("--batch", type=_positive_int, default=64, help="example inputs drawn N(0, 1) (default 64, at least 2)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the example inputs and the test's draws (default 0)")
    p.add_argument("--max-bytes", type=_bytes, default=4 * 2**30, metavar="SIZE",
                   help="build the whole model's map only if its float64 W fits (default 4G; e.g. 512M)")
    p.add_argument("--fold", metavar="OUT", default=None, help="also fold the model's affine stacks and save it to OUT (torch.export .pt2)")
    p.add_argument("--trust-pickle", action="store_true", help="allow loading a pickled model (runs code from the file)")
    p.add_argument("--json", action="store_true", help="print the report (the same rows as the tree) as JSON")
    p.set_defaults(func=_cmd_audit)


def _cmd_audit(args) -> int:
    import time

    import torch

    from .analysis.audit import audit
    from .analysis.load import load_model

    model = load_model(args.model, trust_pickle=args.trust_pickle)
    shape = _input_shape(args, model)
    if args.fold and not isinstance(model, torch.nn.Module):
        raise ValueError(f"--fold: expected a torch model, got an ONNX file ({args.model!r}); fold the torch original")
    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn((max(args.batch, 2), *shape), generator=g)  # a fixed-batch ONNX graph runs it in slices
    report = _with_progress("auditing", lambda cb: audit(model, x, seed=args.seed, max_bytes=args.max_bytes, progress=cb))
    t0 = time.perf_counter()
    if report.is_affine and not isinstance(model, torch.nn.Module) and not args.json:  # no gradients: d + 1 passes
        print(f"building the graph's map by forward probing: {math.prod(shape) + 1:,} passes of the graph "
              "(an ONNX graph has no gradients; about a minute for 12,289 passes of a ResNet-18 here) …",
              file=sys.stderr, flush=True)
    amap = report.map  # built here, when affine (timed apart)
    map_seconds = time.perf_counter() - t0
    fold_info = None
    if args.fold:
        from .analysis.fold import fold_with_report

        folded, frep = fold_with_report(model, x)
        _save_export(folded, x, args.fold, "--fold")
        fold_info = {**frep.to_dict(), "saved": args.fold}
    if args.json:
        print(json.dumps({**report.to_dict(), "map_seconds": map_seconds if amap is not None else None, "fold": fold_info}, indent=2))
        return 0
    console = _console()
    console.print(_audit_tree(report, f"audit of {args.model} on {x.shape[0]} inputs of shape {tuple(shape)}"))
    console.print(f"[dim]probed domain: {report.domain}[/dim]")
    if report.is_affine:
        console.print(f"[bold green]affine[/bold green] on the probed domain (residual {_num(report.residual, '.1e')})")
        if amap is not None:
            cert = (f"{amap.residual:.1e} ≤ {amap.tolerance:.1e}" if amap.verified else
                    f"{amap.residual:.1e} > {amap.tolerance:.1e}: not certified at this precision")
            console.print(f"  one map {amap.out_features} × {amap.in_features} of rank {amap.rank()}, residual on the inputs "
                          f"{cert}, built in {map_seconds:.2f} s ({amap.method})")
    else:
        console.print(f"[bold red]not affine[/bold red]: first nonlinear = [bold]{report.first_nonlinear or '(model, unattributed)'}[/bold]")
        for n in report.nodes:
            where = f"from {n['module']}" if report.of_graph else f"in {n['module'] or 'the model'}'s forward"
            console.print(f"  node {n['node']} ({n['target']}) {where}: residual {n['residual']:.2g}")
        for u in report.unattributed:
            console.print(f"  unattributed: {u}")
    if report.note:
        console.print(f"note: {report.note}")
    kind = "nodes" if report.of_graph else "modules"
    console.print(f"[dim]audit took {report.seconds:.2f} s ({sum(r.tested for r in report.rows)} of {len(report.rows)} {kind} tested)[/dim]")
    if fold_info:
        _print_fold(console, fold_info, args.fold)
    return 0


def _input_shape(args, model) -> tuple[int, ...]:
    """--input-shape, or the shape the model file declares (ONNX graphs, hf: folders)."""
    declared = getattr(model, "in_shape", None)
    if args.input_shape is None and declared is None:
        raise ValueError(f"--input-shape is required for {args.model!r} (one input's shape without the batch, e.g. 3,32,32)")
    strict = not getattr(model, "shape_is_default", False)  # an ONNX graph's shape is fixed; an hf: model's a default
    if strict and args.input_shape is not None and declared is not None and tuple(args.input_shape) != tuple(declared):
        raise ValueError(f"--input-shape {','.join(map(str, args.input_shape))} does not match the model's declared input "
                         f"shape {','.join(map(str, declared))}")
    return tuple(args.input_shape or declared)


def _save_export(folded, x, path: str, what: str) -> None:
    """``folded`` as a torch.export archive at ``path`` (any batch size), written atomically."""
    import torch

    from .viz import atomic_path

    if not any(True for _ in folded.parameters()):
        raise ValueError(f"{what}: the model has no parameters to fold")
    from .analysis._exported import FixedBatch, example_batch

    dtype = next(folded.parameters()).dtype
    with atomic_path(path) as tmp:
        if isinstance(folded, FixedBatch):  # its graph has the batch it was exported with baked in: saved at that batch
            ep = torch.export.export(folded.program, (example_batch(folded, x).to(dtype),))
        else:
            batch = {0: torch.export.Dim.AUTO}  # any batch size, 1 included (audit and collapse probe with 1)
            ep = torch.export.export(folded.eval(), (x[:2].to(dtype),), dynamic_shapes=(batch,))
        torch.export.save(ep, str(tmp))


def _print_fold(console, info: dict, saved: str | None) -> None:
    def ratio(a, b):
        return f" ({a / b:.2f}×)" if a and b else ""

    console.print(f"folded {info['layers_before']} → {info['layers_after']} layers; max rel error against the original "
                  f"in float64 {info['max_rel_error']:.1e}" + (f"; saved to {saved}" if saved else ""))
    console.print(f"  FLOPs per sample {info['flops_before']:,} → {info['flops_after']:,}{ratio(info['flops_before'], info['flops_after'])}, "
                  f"parameters {info['params_before']:,} → {info['params_after']:,}")
    for m in info["merged"]:
        console.print(f"  merged: {m}")
    for m in info["left"]:
        console.print(f"  left:   {m}")
    if not info["merged"] and not info["left"]:
        console.print("  nothing to merge: no two affine layers a rule covers are adjacent (a nonlinearity or a branch sits "
                      "between every pair)")


def _add_fold(sub) -> None:
    p = sub.add_parser(
        "fold",
        help="merge a model's adjacent affine layers (Conv+BN, BN+Linear, Linear+Linear, conv∘conv, …) into a faster equal model",
        description=(
            "Trace MODEL with torch.fx, run it once on a random batch of --input-shape, and merge every adjacent pair "
            "of affine layers a rule covers: Linear∘Linear; BatchNorm (eval) after a Linear, Conv1d/2d or "
            "ConvTranspose1d/2d, or before a Linear or an unpadded Conv; Conv2d∘Conv2d (grouped ones too) and "
            "average pools as convolutions; F.linear, F.conv2d and F.batch_norm calls (aten.linear, aten.conv2d and aten.batch_norm in a torch.export graph) on parameters and buffers as "
            "the layers they are. A module called on several paths gets a merged layer per path. By default a merge "
            "that would cost more multiply-adds than the pair (a Linear bottleneck, a depthwise-separable pair, two "
            "3×3 convs on a large map) is left, with the reason; --dearer merges it anyway. Every merge and the whole "
            "folded model are checked against the original in float64: a difference over the dtype's tolerance is "
            "refused, never returned. Prints what was merged, what was left and why, FLOPs and parameters before and "
            "after, and the measured error.\n\n"
            "MODEL is a factory 'package.module:function' (importable from the current folder), a torch.export file "
            "(.pt2) or a TorchScript file; pickles only with --trust-pickle."
        ),
        epilog=(
            "examples (from the repository root):\n"
            "  actlab fold actlab.zoo:resnet18 --input-shape 3,64,64 --out resnet18-folded.pt2\n"
            "  actlab fold actlab.zoo:mobilenet --input-shape 3,64,64 --json\n"
            "  actlab fold model.pt2 --input-shape 128 --dearer --out folded.pt2"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="package.module:function, FILE.pt2 or a TorchScript file")
    p.add_argument("--input-shape", type=_shape, default=None,
                   help="one input's shape, without the batch (e.g. 3,32,32); an hf: model declares its own")
    p.add_argument("--batch", type=_positive_int, default=8, help="example inputs drawn N(0, 1) (default 8)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the example inputs (default 0)")
    p.add_argument("--out", default=None, metavar="FILE.pt2", help="save the folded model (torch.export archive, any batch size)")
    p.add_argument("--dearer", action="store_true", help="merge also where the merged layer costs more multiply-adds than the pair")
    p.add_argument("--trust-pickle", action="store_true", help="allow loading a pickled model (runs code from the file)")
    p.add_argument("--json", action="store_true", help="print the fold report as JSON")
    p.set_defaults(func=_cmd_fold)


def _cmd_fold(args) -> int:
    import os
    import time

    import torch

    from .analysis.fold import fold_with_report
    from .analysis.load import load_model

    if args.out is not None and os.path.isdir(args.out):
        raise ValueError(f"--out: expected a file name such as folded.pt2, got the folder {args.out!r}")
    model = load_model(args.model, trust_pickle=args.trust_pickle)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"expected a torch model to fold, got an ONNX file ({args.model!r}); fold the torch original")
    x = torch.randn((args.batch, *_input_shape(args, model)), generator=torch.Generator().manual_seed(args.seed))
    t0 = time.perf_counter()
    folded, report = fold_with_report(model, x, cheaper_only=not args.dearer)
    info = {**report.to_dict(), "seconds": time.perf_counter() - t0, "saved": args.out}
    if args.out:
        _save_export(folded, x, args.out, "--out")
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    console = _console()
    _print_fold(console, info, args.out)
    console.print(f"[dim]fold took {info['seconds']:.2f} s (every merge and the whole model checked in float64)[/dim]")
    return 0


def _with_progress(label: str, run):
    """``run(callback)`` with a progress bar on a terminal (stderr), or a line per step in a log
    after the first two seconds."""
    import time

    t0 = time.perf_counter()
    if sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(console=_console(stderr=True), transient=True) as progress:
            task = progress.add_task(label, total=None)
            return run(lambda done, total, what: progress.update(task, completed=done, total=total, description=f"{label} {what}"))

    def line(done, total, what):
        if time.perf_counter() - t0 > 2:
            sys.stderr.write(f"{label}: {done}/{total} {what} ({time.perf_counter() - t0:.1f} s)\n")

    return run(line)


def _audit_tree(report, title: str):
    """The module tree: verdict, residual and reason per module, the first owner highlighted."""
    from rich.markup import escape
    from rich.tree import Tree

    first, flat = report.first_row, report.of_graph
    tree = Tree(f"[bold]{escape(title)}[/bold]")
    nodes = {}
    for r in report.rows:
        verdict = ("[yellow]undecided[/yellow]" if r.affine is None else "[green]affine[/green]" if r.affine
                   else "[red]NOT affine[/red]")
        how = f"residual {r.residual:.1e}" if r.residual is not None else "no test"
        if flat:
            src = f" [dim]({escape(r.source)})[/dim]" if r.source else ""
            label = f"{escape(r.name or '(graph)')}{src} [dim]{r.type}[/dim] {verdict} [dim]{how}[/dim] — {escape(r.reason)}"
            if r.name and r.name == first:
                label = f"[bold reverse] ◀ first nonlinear [/bold reverse] {label}"
            nodes[r.name] = (tree if not r.name else nodes[""]).add(label)
            continue
        label = f"{escape(r.name.rpartition('.')[2] or '(model)')} [dim]{r.type}[/dim] {verdict} [dim]{how}[/dim] — {escape(r.reason)}"
        if r.name == first:
            label = f"[bold reverse] ◀ first nonlinear [/bold reverse] {label}"
        elif r.owns_nonlinearity:
            label = f"[bold]owns[/bold] {label}"
        parent = r.name.rpartition(".")[0]
        while parent and parent not in nodes:
            parent = parent.rpartition(".")[0]
        host = tree if not r.name else nodes.get(parent, nodes.get("", tree))
        nodes[r.name] = host.add(label)
    return tree


def _add_hidden(sub) -> None:
    p = sub.add_parser(
        "hidden",
        help="the hidden-nonlinearity catalogue: measured verdicts for max-pooling, LayerNorm, attention, …",
        description=(
            "Measure, with check_affine, constructs that are nonlinear without any activation (max-pooling, "
            "LayerNorm, BatchNorm in training mode, attention, gating, bilinear layers, sort, abs) and ones that "
            "look nonlinear but are affine (BatchNorm and dropout in eval mode, average pooling, upsampling, "
            "pixel shuffle, padding, transposed and grouped/dilated convolutions, LeakyReLU(1)). Then three "
            "demonstrations: maxout solves XOR with no activation; the square activation solves XOR but is not "
            "universal; float32 flush-to-zero makes a 'linear' network nonlinear."
        ),
        epilog="examples:\n  actlab hidden\n  actlab hidden --json > catalogue.json\n  actlab hidden --seed 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the probes and the demonstrations' training (default 0)")
    p.add_argument("--json", action="store_true", help="print every verdict and demonstration as JSON")
    p.set_defaults(func=_cmd_hidden)


def _cmd_hidden(args) -> int:
    from .analysis.hidden import flush_to_zero_demo, maxout_xor, run_catalogue, square_not_universal

    rows = run_catalogue(seed=args.seed)
    demos = {"maxout_xor": maxout_xor(), "square_not_universal": square_not_universal(), "flush_to_zero": flush_to_zero_demo(args.seed)}
    if args.json:
        print(json.dumps({"catalogue": rows, "demonstrations": demos}, indent=2, default=float))
        return 0
    from rich.table import Table

    table = Table(title="hidden nonlinearity: measured on the default probe boxes")
    for col in ("construct", "verdict", "residual", "why"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["construct"], r["verdict"], f"{r['residual']:.1e}", r["explanation"])
    console = _console()
    console.print(table)
    mx = demos["maxout_xor"]
    console.print(f"maxout, no activation: max(x₁−x₂, x₂−x₁) on XOR = {mx['outputs']} (targets {mx['targets']}), MSE {mx['mse']}")
    sq = demos["square_not_universal"]
    fits = ", ".join(f"{f['activation']} w={f['width']}: {f['best_mse']:.2g}" for f in sq["fits"])
    console.print(f"square activation on {sq['target']}: best quadratic MSE {sq['best_quadratic_mse']:.3f}; best trained: {fits}")
    ft = demos["flush_to_zero"]
    console.print(
        "float32 network through the subnormal range: residual "
        f"{ft['float32_flush_to_zero']['residual']:.2g} with flush-to-zero (not affine), "
        f"{ft['float32_gradual_underflow']['residual']:.1e} with gradual underflow, {ft['float64']['residual']:.1e} in float64"
    )
    return 0


