"""torch.export archives as the modules the audit and fold take.

``torch.export.load(path).module()`` is an fx graph of aten operations whose weights are
attributes (``get_attr`` nodes) and whose input is guarded to the shapes it was exported with.
An archive exported with a dynamic batch runs on any batch as it is. One exported at a fixed
batch B (``export(model, (x,))`` with x of B rows, the default) refuses every other batch, and its
graph may have B baked into a reshape: ``FixedBatch`` runs it on slices of B rows, the last padded
with zeros (as ONNX graphs of a fixed batch are run), so the audit's and fold's batches of any size
reach it unchanged. Where the graph runs on any batch once its guards are gone (checked against
the guarded graph on random inputs), the guards go: the audit then sees every example at once.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

__all__ = ["FixedBatch", "from_exported", "example_batch"]

# torch's own deprecation notice, printed whenever an exported graph is copied (the audit and fold copy)
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)


class FixedBatch(nn.Module):
    """``program`` (traced at ``batch`` rows) on any batch, in slices of ``batch`` rows."""

    def __init__(self, program: nn.Module, batch: int, in_shape: tuple[int, ...] | None = None):
        super().__init__()
        self.program, self.batch = program, batch
        if in_shape is not None:
            self.in_shape = in_shape

    def forward(self, x: torch.Tensor):
        n, b = x.shape[0], self.batch
        if n == b:
            return self.program(x)
        pad = (-n) % b
        xp = torch.cat([x, x.new_zeros((pad, *x.shape[1:]))]) if pad else x
        outs = [self.program(xp[i:i + b]) for i in range(0, n + pad, b)]
        if isinstance(outs[0], torch.Tensor):
            return torch.cat(outs)[:n]
        return type(outs[0])(torch.cat(parts)[:n] for parts in zip(*outs))


def _input_shape(ep) -> torch.Size | None:
    """The shape (symbolic where dynamic) of the program's one tensor input, or None."""
    names = [s.arg.name for s in ep.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
    vals = [n.meta.get("val") for n in ep.graph.nodes if n.op == "placeholder" and n.name in names]
    tensors = [v for v in vals if isinstance(v, torch.Tensor)]
    return tensors[0].shape if len(tensors) == 1 else None


def _unguarded(module: nn.Module) -> nn.Module:
    """A copy of an exported module without its input-shape guards (the ``_guards_fn`` call)."""
    free = copy.deepcopy(module)
    for n in list(free.graph.nodes):
        if n.op == "call_module" and str(n.target).startswith("_guards_fn"):
            free.graph.erase_node(n)
    free.delete_all_unused_submodules()
    free.recompile()
    return free


def _same(a, b) -> bool:
    return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and bool(
        torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6 * float(b.double().abs().max().clamp_min(1.0))))


def from_exported(ep) -> nn.Module:
    """The module of an ExportedProgram, on any batch: its graph without the shape guards where it
    gives the guarded graph's numbers on a batch of another size (checked on random inputs), else
    the guarded graph itself where its batch is dynamic, or in a FixedBatch where it is fixed.
    ``in_shape`` is set where the rest of the input's shape is fixed."""
    module = ep.module()
    shape = _input_shape(ep)
    if shape is None or len(shape) == 0:
        return module
    rest = tuple(shape[1:])
    in_shape = rest if all(isinstance(d, int) for d in rest) else None
    fixed = isinstance(shape[0], int)
    fallback = FixedBatch(module, shape[0], in_shape) if fixed else module
    if in_shape is not None:
        val = next(n.meta["val"] for n in ep.graph.nodes if n.op == "placeholder" and n.meta.get("val") is not None
                   and tuple(n.meta["val"].shape) == tuple(shape))
        x = torch.randn((shape[0] + 1 if fixed else 3, *in_shape), generator=torch.Generator().manual_seed(0)).to(val.dtype)
        try:
            free = _unguarded(module)
            with torch.no_grad():
                ok = _same(free(x), fallback(x)) and _same(free(x[:1]), fallback(x)[:1])
        except Exception:  # a batch baked into the graph (a view to (B, …)): slices of B it is
            ok = False
        if ok:
            free.in_shape = in_shape
            return free
        if not fixed:
            module.in_shape = in_shape
    return fallback


def example_batch(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The rows of ``x`` a FixedBatch's program is traced and exported with (padded to its batch)."""
    b = model.batch
    return torch.cat([x, x.new_zeros((b - x.shape[0], *x.shape[1:]))]) if x.shape[0] < b else x[:b]
