"""The traced graph as ``fold`` sees it: which nodes are layers, and how a merged layer replaces one.

A node is a layer when it calls a module with one input, or calls ``F.linear``, ``F.conv1d``,
``F.conv2d`` or ``F.batch_norm`` (eval: ``training=False``) on constant tensors — parameters and
buffers reached by ``get_attr``. Such a call is seen as the module it equals (sharing its tensors),
so that the merge rules apply to functional code as to modules.

A merged layer replaces the first node of the pair. When that node calls a module that other
nodes call too (one conv used on two paths), the merged layer gets a new name of its own and
the other calls keep the original module: merging into the shared module would change every
path (torch.fx's ``fuse`` does that, silently).
"""

from __future__ import annotations

import inspect
import operator
from collections import Counter
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn


def _linear(input, weight, bias=None): ...  # noqa: E704 — F.linear's signature
def _conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...  # noqa: E704
def _batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5): ...  # noqa: E704


def _aten_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled): ...  # noqa: E704


_aten = torch.ops.aten
# the functional layers, and the aten operations a torch.export graph calls for them
_FUNCTIONAL = {
    F.linear: ("linear", inspect.signature(_linear)),
    F.conv1d: ("conv", inspect.signature(_conv)),
    F.conv2d: ("conv", inspect.signature(_conv)),
    F.batch_norm: ("batch_norm", inspect.signature(_batch_norm)),
    _aten.linear.default: ("linear", inspect.signature(_linear)),
    _aten.conv1d.default: ("conv", inspect.signature(_conv)),
    _aten.conv2d.default: ("conv", inspect.signature(_conv)),
    _aten.batch_norm.default: ("batch_norm", inspect.signature(_aten_batch_norm)),
}
_NOT_CONSTANT = object()


def _with_tensors(layer: nn.Module, w: torch.Tensor, b: torch.Tensor | None) -> nn.Module:
    """``layer`` (built on the meta device) holding ``w`` and ``b`` themselves: a parameter as it
    is, a buffer wrapped without copying."""
    as_param = lambda t: t if isinstance(t, nn.Parameter) else nn.Parameter(t, requires_grad=False)  # noqa: E731
    layer.weight = as_param(w)
    if b is not None:
        layer.bias = as_param(b)
    return layer


class _Graph:
    def __init__(self, gm: fx.GraphModule, values: dict):
        self.gm, self.values = gm, values
        self.modules = dict(gm.named_modules())
        self.sites = Counter(n.target for n in gm.graph.nodes if n.op == "call_module")  # calls per module
        self._built: dict[fx.Node, nn.Module | None] = {}
        self._renamed: set[fx.Node] = set()

    # ------------------------------------------------------------------ reading
    def layer(self, node: fx.Node) -> nn.Module | None:
        """The module a node computes, or None if it is not a one-input layer call."""
        if node.op == "call_module":
            ok = len(node.args) == 1 and not node.kwargs and isinstance(node.args[0], fx.Node)
            return self.modules[node.target] if ok else None
        if node.op == "call_function" and node.target in _FUNCTIONAL:
            if node not in self._built:
                self._built[node] = self._functional_layer(node)
            return self._built[node]
        return None

    def input_of(self, node: fx.Node) -> Any:
        if node.op == "call_function":
            return _FUNCTIONAL[node.target][1].bind(*node.args, **node.kwargs).arguments["input"]
        return node.args[0]

    def label(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return node.target
        name = node.target.__name__
        return f"{node.name} (aten.{name})" if isinstance(node.target, torch._ops.OpOverload) else f"{node.name} (F.{name})"

    def renamed(self, node: fx.Node) -> bool:
        return node in self._renamed

    def _constant(self, arg: Any) -> Any:
        if arg is None:
            return None
        if isinstance(arg, fx.Node) and arg.op == "get_attr":
            value = operator.attrgetter(arg.target)(self.gm)
            return value if isinstance(value, torch.Tensor) else _NOT_CONSTANT
        return _NOT_CONSTANT

    def _functional_layer(self, node: fx.Node) -> nn.Module | None:
        kind, sig = _FUNCTIONAL[node.target]
        try:
            bound = sig.bind(*node.args, **node.kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        a = dict(bound.arguments)
        if not isinstance(a["input"], fx.Node) or not isinstance(self.values.get(a["input"]), torch.Tensor):
            return None
        names = ("weight", "bias") if kind != "batch_norm" else ("running_mean", "running_var", "weight", "bias")
        t = {k: self._constant(a[k]) for k in names}
        if any(v is _NOT_CONSTANT for v in t.values()):
            return None
        return getattr(self, f"_as_{kind}")(t, a, self.values[a["input"]])

    @staticmethod
    def _as_linear(t: dict, a: dict, x: torch.Tensor) -> nn.Module | None:
        w, b = t["weight"], t["bias"]
        if w is None or w.ndim != 2:
            return None
        return _with_tensors(nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device="meta"), w, b)

    @staticmethod
    def _as_conv(t: dict, a: dict, x: torch.Tensor) -> nn.Module | None:
        w, b = t["weight"], t["bias"]
        if w is None or w.ndim not in (3, 4) or not isinstance(a["groups"], int):
            return None
        cls = nn.Conv1d if w.ndim == 3 else nn.Conv2d
        geometry = {k: tuple(v) if isinstance(v, list) else v for k, v in a.items() if k in ("stride", "padding", "dilation")}
        try:
            conv = cls(w.shape[1] * a["groups"], w.shape[0], tuple(w.shape[2:]), **geometry, groups=a["groups"],
                       bias=b is not None, device="meta")
        except (TypeError, ValueError):  # geometry given as tensors or nodes: not a constant layer
            return None
        return _with_tensors(conv, w, b)

    @staticmethod
    def _as_batch_norm(t: dict, a: dict, x: torch.Tensor) -> nn.Module | None:
        mean, var, w, b = t["running_mean"], t["running_var"], t["weight"], t["bias"]
        if a["training"] is not False or mean is None or var is None or x.ndim not in (2, 3, 4):
            return None
        cls = nn.BatchNorm2d if x.ndim == 4 else nn.BatchNorm1d
        affine = w is not None or b is not None
        bn = cls(mean.numel(), eps=a["eps"], momentum=a["momentum"], affine=affine, device="meta").eval()
        bn.running_mean, bn.running_var = mean, var
        bn.num_batches_tracked = torch.zeros((), dtype=torch.long)
        if affine:
            _with_tensors(bn, w if w is not None else torch.ones_like(mean), b if b is not None else torch.zeros_like(mean))
        return bn

    # ------------------------------------------------------------------ writing
    def replace(self, node: fx.Node, merged: nn.Module) -> fx.Node:
        """Put ``merged`` in place of what ``node`` computes; returns the node that now calls it."""
        if node.op == "call_module" and self.sites[node.target] == 1:
            parent, _, name = node.target.rpartition(".")
            setattr(self.gm.get_submodule(parent) if parent else self.gm, name, merged)
            self.modules[node.target] = merged
            return node
        base = (node.target.replace(".", "_") if node.op == "call_module" else node.name) + "_folded"
        name, k = base, 1
        while hasattr(self.gm, name):
            name, k = f"{base}{k}", k + 1
        self.gm.add_submodule(name, merged)
        self.modules[name] = merged
        self.sites[name] = 1
        if node.op == "call_module":
            self.sites[node.target] -= 1
        with self.gm.graph.inserting_before(node):
            new = self.gm.graph.call_module(name, (self.input_of(node),))
        new.meta = dict(node.meta)
        node.replace_all_uses_with(new)
        self.gm.graph.erase_node(node)
        self.values[new] = self.values.get(node)
        if node.op == "call_module":
            self._renamed.add(new)
        return new

    def drop_unused_attributes(self) -> None:
        """Erase get_attr nodes nothing reads any more, and the parameters and buffers only they
        reached (a functional layer's weights, now inside a merged layer)."""
        dead = [n for n in self.gm.graph.nodes if n.op == "get_attr" and not n.users]
        for n in dead:
            self.gm.graph.erase_node(n)
        read = {n.target for n in self.gm.graph.nodes if n.op == "get_attr"}
        called = [n.target for n in self.gm.graph.nodes if n.op == "call_module"]
        for target in {n.target for n in dead} - read:
            owner, _, name = target.rpartition(".")
            if any(c == owner or c.startswith(owner + ".") for c in called if owner):
                continue  # the owning module still runs
            module = self.gm.get_submodule(owner) if owner else self.gm
            if name in module._parameters or name in module._buffers:
                delattr(module, name)
