"""A torch module read as the kernel's list of layers (torch.fx), with the offsets each one keeps.

Supported, as modules or functional calls: ``nn.Linear``; ``nn.Conv1d/2d`` (stride, padding,
dilation; zero padding, one group); ``nn.AvgPool1d/2d`` and ``nn.AdaptiveAvgPool1d/2d`` (to a
size that divides the input's); ``nn.Flatten``; ``x.mean`` over the positions; every registry
activation (``nn.ReLU``, ``F.gelu``, ``torch.tanh``, actlab's ``Act``, ``nn.Identity`` the linear
one, …); sums of two branches; a constant factor; ``nn.RNN`` (tanh or relu, batch_first, any
number of layers, its output sequence or its last state) and actlab's ``SimpleRNN``. Anything else
is refused naming the module or the call.

After the layers are known, one backward pass gives each tensor the offsets its users need
(``_state``): a readout after Flatten needs offset 0, a pooling window of w widens by w − 1, a
stride s multiplies by s; a mean over positions needs all of them.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from numbers import Real

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from ..nets import Act, SimpleRNN

__all__ = ["Op", "plan"]

_ACT_MODULES = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.GELU: "gelu", nn.ELU: "elu", nn.SELU: "selu",
                nn.CELU: "celu", nn.SiLU: "silu", nn.Mish: "mish", nn.Softplus: "softplus", nn.Hardtanh: "hardtanh",
                nn.Hardsigmoid: "hardsigmoid", nn.Hardswish: "hardswish", nn.ReLU6: "relu6", nn.Softsign: "softsign",
                nn.LeakyReLU: "leaky_relu", nn.Identity: "linear"}
# the settings at which each module is the registry's activation
_ACT_DEFAULTS = {nn.GELU: {"approximate": "none"}, nn.ELU: {"alpha": 1.0}, nn.CELU: {"alpha": 1.0},
                 nn.Softplus: {"beta": 1.0}, nn.Hardtanh: {"min_val": -1.0, "max_val": 1.0},
                 nn.LeakyReLU: {"negative_slope": 0.01}}
_ACT_FUNCTIONS = {torch.relu: "relu", F.relu: "relu", torch.tanh: "tanh", F.tanh: "tanh", torch.sigmoid: "sigmoid",
                  F.sigmoid: "sigmoid", F.gelu: "gelu", torch.erf: "erf", torch.special.erf: "erf", torch.sin: "sin",
                  torch.abs: "abs", F.silu: "silu", F.elu: "elu", F.selu: "selu", torch.selu: "selu", F.celu: "celu",
                  F.softplus: "softplus", F.mish: "mish", F.hardtanh: "hardtanh", F.relu6: "relu6",
                  F.hardsigmoid: "hardsigmoid", F.hardswish: "hardswish", F.softsign: "softsign",
                  F.leaky_relu: "leaky_relu"}
_ACT_METHODS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "abs": "abs", "sin": "sin", "erf": "erf"}
_FUNC_DEFAULTS = {F.gelu: {"approximate": "none"}, F.elu: {"alpha": 1.0}, F.celu: {"alpha": 1.0},
                  F.softplus: {"beta": 1.0}, F.hardtanh: {"min_val": -1.0, "max_val": 1.0}, F.leaky_relu: {"negative_slope": 0.01}}
_FUNC_POSITIONAL = {F.elu: "alpha", F.celu: "alpha", F.softplus: "beta", F.leaky_relu: "negative_slope"}


@dataclass
class Op:
    """One layer of the plan: ``kind`` and its settings, the nodes it reads, the positions (and
    whether flattened) of its output, and the offsets its output keeps (``radius``)."""

    node: fx.Node
    kind: str
    inputs: list = field(default_factory=list)
    size: tuple = ()
    flat: bool = False
    layout: str = "dense"
    params: dict = field(default_factory=dict)
    radius: tuple = ()


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, (SimpleRNN, Act, nn.RNN)) or super().is_leaf_module(m, qualname)


def _refuse(what: str) -> ValueError:
    return ValueError(f"{what}: the infinite-width kernel knows Linear, Conv1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, "
                      "Flatten, mean over positions, elementwise activations of the registry, sums of independent branches, "
                      "constant factors, nn.RNN and SimpleRNN; it has no rule for this (max pooling, normalisation and "
                      "attention have no Gaussian-process limit of this kind)")


def _tuple(v, r: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * r


class _Shapes(fx.Interpreter):
    """Runs the graph once, noting each node's output shape (torch.fx's ShapeProp imports sympy: 0.5 s)."""

    def run_node(self, n: fx.Node):
        out = super().run_node(n)
        n.meta["actlab_shape"] = tuple(out.shape) if isinstance(out, torch.Tensor) else ()
        return out


def _shape(node: fx.Node) -> tuple:
    return node.meta.get("actlab_shape", ())


def _module_activation(mod: nn.Module, label: str) -> str | None:
    if isinstance(mod, Act):
        return mod.spec.name
    for cls, name in _ACT_MODULES.items():
        if type(mod) is cls:
            for key, want in _ACT_DEFAULTS.get(cls, {}).items():
                if getattr(mod, key) != want:
                    raise ValueError(f"{label}: {cls.__name__} with {key}={getattr(mod, key)!r}; the registry's {name} "
                                     f"has {key}={want!r}")
            return name
    return None


def _function_activation(node: fx.Node) -> str | None:
    if node.op == "call_method":
        name = _ACT_METHODS.get(node.target)
        if name is not None and (len(node.args) > 1 or node.kwargs):
            raise _refuse(f"{node.name}: x.{node.target} with arguments")
        return name
    fn = node.target
    name = _ACT_FUNCTIONS.get(fn) if node.op == "call_function" else None
    if name is None:
        return None
    settings = dict(node.kwargs)
    settings.pop("inplace", None)
    if len(node.args) > 1 and fn in _FUNC_POSITIONAL:
        settings[_FUNC_POSITIONAL[fn]] = node.args[1]
    for key, value in settings.items():
        want = _FUNC_DEFAULTS.get(fn, {}).get(key)
        if want is None or value != want:
            raise ValueError(f"{node.name}: {getattr(fn, '__name__', fn)} with {key}={value!r}; the registry's {name} is the "
                             f"default ({_FUNC_DEFAULTS.get(fn, {}) or 'no settings'})")
    return name


def _conv_params(mod, node, in_shape, out_shape) -> dict:
    r = len(in_shape) - 2
    if mod.groups != 1 or mod.padding_mode != "zeros":
        raise ValueError(f"{node.target}: {type(mod).__name__} with groups={mod.groups}, padding_mode={mod.padding_mode!r}; "
                         "the kernel supports groups=1 and zero padding")
    pad = mod.padding
    if isinstance(pad, str):
        if pad == "valid":
            pad = (0,) * r
        else:  # "same", stride 1: symmetric only where the window is odd
            span = [d * (k - 1) for d, k in zip(_tuple(mod.dilation, r), _tuple(mod.kernel_size, r))]
            if any(s % 2 for s in span):
                raise ValueError(f"{node.target}: padding='same' with an even window pads one side more; pad explicitly")
            pad = tuple(s // 2 for s in span)
    return {"kernel": _tuple(mod.kernel_size, r), "stride": _tuple(mod.stride, r), "padding": _tuple(pad, r),
            "dilation": _tuple(mod.dilation, r), "size": tuple(out_shape[2:]), "bias": mod.bias is not None}


def _pool_params(mod, node, in_shape, out_shape) -> dict:
    r = len(in_shape) - 2
    size_in, size_out = tuple(in_shape[2:]), tuple(out_shape[2:])
    if isinstance(mod, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
        if any(i % o for i, o in zip(size_in, size_out)):
            raise ValueError(f"{node.target}: {type(mod).__name__} from {size_in} to {size_out}: the windows overlap unevenly; "
                             "the kernel supports output sizes that divide the input's")
        w = tuple(i // o for i, o in zip(size_in, size_out))
        return {"window": w, "stride": w, "padding": (0,) * r, "size": size_out}
    if mod.ceil_mode or (not mod.count_include_pad and any(_tuple(mod.padding, r))) or getattr(mod, "divisor_override", None):
        raise ValueError(f"{node.target}: {type(mod).__name__} with ceil_mode, count_include_pad=False or divisor_override; "
                         "the kernel supports the defaults")
    return {"window": _tuple(mod.kernel_size, r), "stride": _tuple(mod.stride, r), "padding": _tuple(mod.padding, r),
            "size": size_out}


def _rnn_params(mod, node) -> dict:
    if isinstance(mod, SimpleRNN):
        return {"activation": mod.act.spec.name, "layers": 1, "biases": 1, "sequence": mod.return_sequences}
    if not mod.batch_first or mod.bidirectional or getattr(mod, "proj_size", 0):
        raise ValueError(f"{node.target}: nn.RNN with batch_first={mod.batch_first}, bidirectional={mod.bidirectional}; "
                         "the kernel supports batch_first=True, one direction (pass sequences as (N, T, F))")
    return {"activation": mod.nonlinearity, "layers": mod.num_layers, "biases": 2 if mod.bias else 0, "sequence": None}


_ADDS = {operator.add, torch.add, operator.iadd}
_SCALES = {operator.mul: False, torch.mul: False, operator.truediv: True, torch.div: True, operator.imul: False}
_IGNORED_METHODS = {"size", "dim", "contiguous"}


def _tensor_args(node: fx.Node) -> list[fx.Node]:
    return [a for a in node.args if isinstance(a, fx.Node)]


def _last_step(index, length: int) -> bool:
    """Whether ``index`` picks one time step, the last, from (N, T, F): [:, -1] or [:, -1, :]."""
    if not isinstance(index, tuple) or len(index) not in (2, 3) or index[0] != slice(None):
        return False
    return isinstance(index[1], int) and index[1] in (-1, length - 1) and all(i == slice(None) for i in index[2:])


def _call(node: fx.Node, mods: dict, ops: dict) -> Op:
    """The Op of one call node; ``ops`` the Ops of the nodes before it."""
    args = _tensor_args(node)
    src = ops[args[0]] if args and args[0] in ops else None
    shape = _shape(node)
    if node.op == "call_module":
        mod = mods[node.target]
        return _module_op(node, mod, src, shape)
    name = _function_activation(node)
    if name is not None:
        return Op(node, "act", [args[0]], src.size, src.flat, src.layout, {"activation": name})
    target = node.target
    if target in _ADDS or (node.op == "call_method" and target in ("add", "add_")):
        if len(args) != 2 or node.kwargs:
            raise _refuse(f"{node.name}: a sum with a constant or with alpha")
        return Op(node, "add", args, src.size, src.flat, src.layout)
    if target in _SCALES or (node.op == "call_method" and target in ("mul", "div")):
        factor = [a for a in node.args if isinstance(a, Real)]
        if len(args) != 1 or len(factor) != 1:
            raise _refuse(f"{node.name}: a product of two tensors")
        f = float(factor[0])
        divide = _SCALES.get(target, target == "div")
        if divide and (f == 0 or node.args[0] is not args[0]):
            raise _refuse(f"{node.name}: a division by a tensor")
        return Op(node, "scale", args, src.size, src.flat, src.layout, {"factor": 1 / f if divide else f})
    if target is operator.getitem:
        return _getitem(node, src, shape)
    if target in (torch.flatten, "flatten", "view", "reshape") and src is not None:
        if len(shape) == 2 and shape[0] == _shape(args[0])[0]:
            return Op(node, "flatten", [args[0]], src.size, bool(src.size), src.layout)
    if target in (torch.mean, "mean") and src is not None and src.size and not src.flat:
        dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        rank = len(_shape(args[0]))
        dims = {d % rank for d in (dims if isinstance(dims, (tuple, list)) else (dims,))} if dims is not None else None
        want = {1} if src.layout == "sequence" else set(range(2, rank))
        if dims == want and not node.kwargs.get("keepdim", False):
            return Op(node, "mean", [args[0]], (), False, "dense")
    raise _refuse(f"{node.name}: {getattr(target, '__name__', target)}")


def _module_op(node, mod, src, shape) -> Op:
    label = f"{node.target} ({type(mod).__name__})"
    name = _module_activation(mod, label)
    if name is not None:
        return Op(node, "act", [node.args[0]], src.size, src.flat, src.layout, {"activation": name})
    in_shape = _shape(node.args[0])
    if isinstance(mod, nn.Linear):
        if len(in_shape) != 2:
            raise ValueError(f"{label}: expected a dense input (N, features), got shape {in_shape}; nn.Linear on a tensor "
                             "with positions acts on each position alone: flatten or pool first")
        return Op(node, "weight", [node.args[0]], (), False, "dense", {"conv": None, "bias": mod.bias is not None})
    if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
        return Op(node, "weight", [node.args[0]], tuple(shape[2:]), False, "channels", {"conv": _conv_params(mod, node, in_shape, shape),
                                                                                      "bias": mod.bias is not None})
    if isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
        return Op(node, "pool", [node.args[0]], tuple(shape[2:]), False, "channels", _pool_params(mod, node, in_shape, shape))
    if isinstance(mod, nn.Flatten):
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise ValueError(f"{label}: Flatten(start_dim={mod.start_dim}, end_dim={mod.end_dim}); the kernel supports (1, -1)")
        return Op(node, "flatten", [node.args[0]], src.size, bool(src.size), src.layout)
    if isinstance(mod, (nn.RNN, SimpleRNN)):
        if len(in_shape) != 3:
            raise ValueError(f"{label}: expected sequences (N, T, features), got shape {in_shape}")
        params = _rnn_params(mod, node)
        last = params["sequence"] is False  # SimpleRNN's last state
        return Op(node, "rnn", [node.args[0]], () if last else (in_shape[1],), False, "dense" if last else "sequence",
                  {**params, "steps": in_shape[1]})
    raise _refuse(label)


def _getitem(node, src, shape) -> Op:
    index = node.args[1]
    if src is not None and src.kind == "rnn" and src.params["sequence"] is None:  # nn.RNN's (output, h_n)
        if index == 0:
            return Op(node, "same", [node.args[0]], src.size, False, "sequence")
        if index == 1:
            return Op(node, "final", [node.args[0]], src.size, False, "final", {"layers": src.params["layers"]})
    if src is not None and src.kind == "final" and index in (-1, src.params["layers"] - 1):
        return Op(node, "last", [node.args[0]], (), False, "dense")
    if src is not None and src.layout == "sequence" and src.size and _last_step(index, src.size[0]):
        return Op(node, "last", [node.args[0]], (), False, "dense")
    raise _refuse(f"{node.name}: indexing with {index!r} (the kernel reads an RNN's output sequence, its last state "
                  "h_n[-1] or out[:, -1])")


def _input_layout(node: fx.Node, ops: dict) -> str:
    """How the data's axes read, from the layers that take it."""
    kinds = set()
    for user in node.users:
        op = ops[user]
        if op.kind == "weight":
            kinds.add("channels" if op.params["conv"] else "dense")
        elif op.kind == "rnn":
            kinds.add("sequence")
        elif op.kind == "flatten":
            kinds.add("flatten")
        else:
            raise ValueError(f"{user.name}: the data goes to a {op.kind} before any layer with weights; the kernel starts at "
                             "the first Linear, Conv or RNN (a function of the data alone has no infinite width)")
    if len(kinds) != 1:
        raise ValueError(f"the data is read in several ways ({', '.join(sorted(kinds))}); expected one first layer")
    return kinds.pop()


def _requirement(op: Op, src: Op) -> tuple:
    """The offsets ``op`` needs of its input ``src``, given its own."""
    cap = lambda r: tuple(min(x, n - 1) for x, n in zip(r, src.size))  # noqa: E731
    r = op.radius
    if op.kind == "weight" and op.params["conv"] is None:
        return (0,) * len(src.size)
    if op.kind == "weight":
        return cap([s * x for s, x in zip(op.params["conv"]["stride"], r)])
    if op.kind == "pool":
        return cap([s * x + w - 1 for s, x, w in zip(op.params["stride"], r, op.params["window"])])
    if op.kind == "mean":
        return tuple(n - 1 for n in src.size)
    if op.kind in ("last", "final"):
        return (0,)
    if op.kind == "rnn" and not op.size:  # SimpleRNN's last state
        return (0,)
    return cap(r) if src.size else ()


def plan(model: nn.Module, example: torch.Tensor) -> tuple[list[Op], Op]:
    """The model's layers in order, each with the offsets it keeps (the first: the data, with its
    layout), and the layer whose output the model returns."""
    if _Tracer().is_leaf_module(model, ""):  # a lone layer: traced inside a wrapper, as a call of it
        model = nn.Sequential(model)
    try:
        gm = fx.GraphModule(model, _Tracer().trace(model))
    except Exception as e:  # noqa: BLE001 — tracing fails in many ways; the message is torch's
        raise ValueError(f"could not read {type(model).__name__} as a graph (torch.fx): {e}") from e
    modes = [(m, m.training) for m in gm.modules()]
    try:
        with torch.no_grad():
            gm.eval()  # the shapes are the same in either mode, and a training BatchNorm refuses one example
            _Shapes(gm).run(example)
    except Exception as e:  # noqa: BLE001
        cause = str(e.__cause__ or e).strip().splitlines()[0]  # torch's own message, without the interpreter's graph dump
        raise ValueError(f"the model does not run on inputs of shape {tuple(example.shape[1:])} (one input: "
                         f"{tuple(example.shape)}): {cause}") from e
    finally:
        for m, mode in modes:
            m.training = mode
    mods = dict(gm.named_modules())
    ops: dict = {}
    order: list[Op] = []
    out_node = None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if order:
                raise ValueError(f"expected a model of one input, got a second: {node.name}")
            op = Op(node, "input", [], tuple(_shape(node)[2:]), False, "channels")
        elif node.op == "output":
            out_node = node.args[0]
            continue
        elif node.op == "get_attr" or (node.op == "call_method" and node.target in _IGNORED_METHODS):
            continue
        else:
            op = _call(node, mods, ops)
        ops[node] = op
        order.append(op)
    layout = _input_layout(order[0].node, ops)
    _set_input(order[0], layout, _shape(order[0].node))
    for user in order[0].node.users if layout == "flatten" else ():  # the data flattened: the Flatten itself is a no-op
        ops[user].size, ops[user].flat, ops[user].layout = (), False, "dense"
    if not isinstance(out_node, fx.Node) or out_node not in ops:
        raise ValueError("expected a model that returns one tensor")
    last = ops[out_node]
    if last.kind == "rnn" and last.params["sequence"] is None:
        raise ValueError("expected a model that returns one tensor, got nn.RNN's (output, h_n): read h_n[-1] or output[:, -1] "
                         "with a readout layer")
    if last.size and not (last.flat and all(n == 1 for n in last.size)):
        raise ValueError(f"expected a model whose output is (N, outputs), got one with positions {last.size}")
    _radii(order, ops, out_node)
    return order, last


def _set_input(op: Op, layout: str, shape: tuple) -> None:
    op.layout = "dense" if layout == "flatten" else layout
    op.size = {"dense": (), "channels": tuple(shape[2:]), "sequence": tuple(shape[1:2])}[op.layout]
    if layout == "flatten":
        op.params["flatten"] = True
    elif layout == "dense" and len(shape) != 2:
        raise ValueError(f"expected inputs (N, features) for the first nn.Linear, got shape {shape}")


def _radii(order: list[Op], ops: dict, out_node) -> None:
    """Each op's radius: the most its users need, per spatial dimension (0 for the output)."""
    need: dict = {out_node: tuple(0 for _ in ops[out_node].size)}
    for op in reversed(order):
        op.radius = need.get(op.node, tuple(0 for _ in op.size))
        if op.kind == "flatten" and op.layout == "dense" and not op.flat:
            op.radius = ()
        for src_node in op.inputs:
            src = ops[src_node]
            want = _requirement(op, src)
            have = need.get(src_node)
            need[src_node] = want if have is None else tuple(max(a, b) for a, b in zip(have, want))
