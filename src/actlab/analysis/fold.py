"""Structure-preserving folding: merge adjacent affine layers of a real model, exactly.

The model is traced with ``torch.fx`` (standard layers as leaves), run once on the example
inputs to know every value's shape, and each layer whose only input is another layer with
no other user is merged into it when a rule applies:

  Linear₂ ∘ Linear₁            W = W₂W₁, b = W₂b₁ + b₂
  BatchNorm(eval) ∘ Conv/Linear   W' = γ/√(σ²+ε) · W, b' = γ/√(σ²+ε) · (b − μ) + β — only when the
                               BatchNorm normalises the layer's output axis (a conv's channels;
                               a Linear's features only on 2-D tensors: BatchNorm1d normalises
                               dim 1, a Linear acts on the last)
  Conv₂ ∘ Conv₁ (2-D)          kernel = the full convolution of the two kernels, placed with
                               the first's dilation d₁ and the second's step s₁d₂: extent
                               d₁(k₁−1) + s₁d₂(k₂−1) + 1, stride s₁s₂, padding p₁,
                               bias b₂ + Σ W₂·b₁ — exact only when the second conv does not
                               pad (zero padding of an intermediate map is not a convolution
                               of the input) and neither is grouped
  AvgPool2d ∘ Conv, Conv ∘ AvgPool2d   the pool as a convolution with weights 1/k² per channel
                               (no padding, floor mode), then the conv rule
  Identity, eval Dropout, actlab's identity activation, a Flatten of a 2-D tensor: dropped

Every merge is checked in float64 on the values the pair received: a merged layer that differs
from the pair by more than the tolerance of the model's dtype is refused (the pair is kept and
``FoldReport.left`` says why). The folded model is compared once more with the original in
float64 on the example inputs; over tolerance, the original is returned unfolded. A model that
torch.fx cannot trace is folded inside its ``nn.Sequential`` containers only (the report says so).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from .._folding import FoldReport, _fold_seq, _transparent, merge_pair
from .._tolerance import relative_error, tolerance_for
from . import run_with_hooks
from ._exported import FixedBatch, example_batch
from ._graph import _FUNCTIONAL, _Graph
from .cost import count_macs, n_parameters

__all__ = ["FoldReport", "fold", "fold_with_report"]


def _count(m: nn.Module) -> int:
    """Layers: leaf modules; in an exported graph (aten operations), its layer calls and modules called."""
    m = m.program if isinstance(m, FixedBatch) else m
    if isinstance(m, torch.fx.GraphModule) and any(isinstance(n.target, torch._ops.OpOverload) for n in m.graph.nodes):
        return sum(1 for n in m.graph.nodes if n.op == "call_module" and not str(n.target).startswith("_guards")
                   or n.op == "call_function" and n.target in _FUNCTIONAL)
    return sum(1 for x in m.modules() if not isinstance(x, nn.Sequential) and not any(True for _ in x.children()))


def fold_with_report(model: nn.Module, example_inputs: Any, *, cheaper_only: bool = True) -> tuple[nn.Module, FoldReport]:
    """The folded model and what was merged (see the module docstring).

    ``cheaper_only`` (the default) keeps a merge only when the merged layer costs no more
    multiply-adds per sample than the pair — two 3×3 convs on a large image would merge into a
    dearer 5×5, a Linear bottleneck 100→2→100 into a 25× dearer 100×100 Linear; the pair is left
    and ``FoldReport.left`` says why. ``cheaper_only=False`` merges them anyway (and says so)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"fold needs a torch.nn.Module, got {type(model).__name__}")
    x = torch.as_tensor(example_inputs)
    if x.ndim < 2:
        raise ValueError(f"example_inputs must be a batch (N, ...), got shape {tuple(x.shape)}")
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    x = x.to(dtype)
    report = FoldReport(layers_before=_count(model))
    work = copy.deepcopy(model)
    if isinstance(work, FixedBatch):  # an archive exported at a fixed batch: its graph, on a batch of that size
        inner = _fold_fx(work.program, example_batch(work, x), report, cheaper_only)
        folded = FixedBatch(inner, work.batch, getattr(work, "in_shape", None)) if inner is not None else work
    else:
        folded = _fold_fx(work, x, report, cheaper_only)
    if folded is None:
        folded = _fold_sequentials(work, x, report, cheaper_only)
    if not report.merged:  # nothing merged: the model as it was, not a traced copy of it
        folded = work
    report.layers_after = _count(folded)
    a, b = copy.deepcopy(model).double(), copy.deepcopy(folded).double()
    try:
        with torch.no_grad():
            ya, yb = a(x.double()), b(x.double())
    except Exception as exc:  # the folded model no longer runs: never return it
        raise RuntimeError(f"the folded model failed on the example inputs ({type(exc).__name__}: {exc}); please report this") from exc
    report.max_rel_error = relative_error(yb - ya, ya)
    tol = tolerance_for(dtype)
    if report.max_rel_error > tol:
        report.left.append(
            f"fold refused: the folded model differs from the original by {report.max_rel_error:.2g} on the example "
            f"inputs (tolerance {tol:.2g}); the original is returned"
        )
        report.merged.clear()
        folded, report.layers_after, report.max_rel_error = copy.deepcopy(model), report.layers_before, 0.0
    report.macs_before, report.macs_after = count_macs(model, x), count_macs(folded, x)
    report.params_before, report.params_after = n_parameters(model), n_parameters(folded)
    return folded, report


def fold(model: nn.Module, example_inputs: Any, *, cheaper_only: bool = True) -> nn.Module:
    """Merge adjacent affine layers; the report is at ``folded.fold_report``."""
    folded, report = fold_with_report(model, example_inputs, cheaper_only=cheaper_only)
    folded.fold_report = report
    return folded


def _fold_fx(work: nn.Module, x: torch.Tensor, report: FoldReport, cheaper_only: bool) -> nn.Module | None:
    """Fold the traced graph of ``work`` in place of its modules; None if it cannot be traced."""
    import torch.fx as fx

    try:
        gm = work if isinstance(work, fx.GraphModule) else fx.symbolic_trace(work)  # a graph already (torch.export's, say)
    except Exception as exc:  # data-dependent control flow and the like: fall back to Sequentials
        report.left.append(f"torch.fx could not trace the model ({type(exc).__name__}); folded inside nn.Sequential containers only")
        return None
    values = _record_values(gm, x)
    graph = _Graph(gm, values)
    for node in list(gm.graph.nodes):
        layer = graph.layer(node)
        if layer is None:
            continue
        src = graph.input_of(node)
        if node.op == "call_module" and (_transparent(layer) or isinstance(layer, nn.Flatten) and getattr(values.get(src), "ndim", 0) == 2):
            node.replace_all_uses_with(src)
            gm.graph.erase_node(node)
            graph.sites[node.target] -= 1
            report.merged.append(f"{node.target} ({type(layer).__name__}) dropped: the identity here")
            continue
        if not isinstance(src, fx.Node) or len(src.users) != 1 or (prev := graph.layer(src)) is None:
            continue
        a_in, b_in, b_out = values.get(graph.input_of(src)), values.get(src), values.get(node)
        if not all(isinstance(v, torch.Tensor) for v in (a_in, b_in, b_out)):
            continue
        merged, what, why = merge_pair(prev, layer, a_in, b_in, b_out, cheaper_only=cheaper_only)
        if merged is None:
            if why:
                report.left.append(f"{graph.label(src)} + {graph.label(node)}: {why}")
            continue
        label = f"{graph.label(src)} + {graph.label(node)}"
        src = graph.replace(src, merged)
        node.replace_all_uses_with(src)
        gm.graph.erase_node(node)
        if node.op == "call_module":
            graph.sites[node.target] -= 1
        values[src] = b_out
        report.merged.append(f"{label} {what}" + (" (its own layer: the module is called elsewhere too)" if graph.renamed(src) else ""))
    graph.drop_unused_attributes()
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return _as_sequential(gm) if isinstance(work, nn.Sequential) else gm


def _record_values(gm, x: torch.Tensor) -> dict:
    """Every node's value on the example inputs (clones: in-place ops change them later)."""
    import torch.fx as fx

    values: dict[fx.Node, Any] = {}

    class Recorder(fx.Interpreter):
        extra_traceback = False  # its error decoration imports torch._dynamo (seconds) before we report

        def run_node(self, n):
            out = super().run_node(n)
            values[n] = out.detach().clone() if isinstance(out, torch.Tensor) else out
            return out

    try:
        with torch.no_grad():
            Recorder(gm).run(x)
    except Exception as exc:
        raise ValueError(f"the model raised on example inputs of shape {tuple(x.shape)}: {type(exc).__name__}: {exc}") from None
    return values


def _set_submodule(root: nn.Module, target: str, module: nn.Module) -> None:
    parent, _, name = target.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, module)


def _as_sequential(gm) -> nn.Module:
    """A folded Sequential that is still a chain of layers, as an nn.Sequential again."""
    nodes = list(gm.graph.nodes)
    chain = nodes[1:-1]
    prev = nodes[0]
    for n in chain:
        if n.op != "call_module" or n.args != (prev,) or n.kwargs or len(n.users) != 1:
            return gm
        prev = n
    if nodes[-1].args != (prev,):
        return gm
    return nn.Sequential(*[gm.get_submodule(n.target) for n in chain])


def _fold_sequentials(work: nn.Module, x: torch.Tensor, report: FoldReport, cheaper_only: bool) -> nn.Module:
    """The fallback: fold each outermost Sequential of ``work`` in place (or ``work`` itself)."""
    if isinstance(work, nn.Sequential):
        return _fold_seq(work, report, "", x, cheaper_only=cheaper_only)[0]
    inputs: dict[str, torch.Tensor] = {}

    def keep_input(name: str):
        def hook(mod, args, kwargs) -> None:  # a pre-hook that returns anything but None replaces the input
            inputs.setdefault(name, args[0].clone())
        return hook

    seqs = [(name, m) for name, m in work.named_modules() if isinstance(m, nn.Sequential)]
    run_with_hooks(work, x, [(m, keep_input(name)) for name, m in seqs])
    outermost = [n for n in inputs if not any(n.startswith(o + ".") for o in inputs if o != n)]
    for name in outermost:
        new, _ = _fold_seq(work.get_submodule(name), report, f"{name}.", inputs[name], cheaper_only=cheaper_only)
        _set_submodule(work, name, new)
    return work
