"""The article's random architectures (experiments E2, E3, E4) in PyTorch.

Sizes are drawn as the original scripts drew them, with glorot-uniform weights *and biases*
(the original overrode Keras' zero bias so that the biases matter):

    dense  input U{1..128} → 1..10 hidden Dense of width U{1..1024} → output U{1..128}
    conv   input 3×H×W, H, W ~ U{h_min..32} → 1..3 Conv2D 3×3 ('valid') with U{1..32}
           filters, each followed with probability ½ by 2×2 average pooling → Flatten → Dense(U{1..128})
    rnn    input 100 steps × 5 features → 1..3 simple RNN layers of width U{1..128}
           (the last returns its final state) → Dense(U{1..128})

The hidden layers use the chosen registry activation; the output layer is linear.
Unlike the original, no draw crashes: the conv stack is drawn first and H, W are drawn
from the sizes it can take (h_min is computed, not guessed).

Glorot uniform: U(−a, a), a = √(6 / (fan_in + fan_out)); for a bias of length n Keras takes
fan_in = fan_out = n, so a = √(3/n). RNN recurrent kernels are orthogonal, as in Keras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import activations

__all__ = ["NetSpec", "draw", "build", "random_net", "spec_from_sizes", "ARCHS", "Act", "SimpleRNN", "min_conv_size"]

ARCHS = ("dense", "conv", "rnn")


@dataclass(frozen=True)
class NetSpec:
    """What was drawn: enough to rebuild the architecture and to describe it."""

    arch: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    hidden: tuple[int, ...]  # dense/rnn: widths; conv: filters per conv layer
    pool: tuple[bool, ...] = field(default=())  # conv: 2×2 average pooling after each conv layer

    def summary(self) -> str:
        ins = "×".join(map(str, self.in_shape))
        out = self.out_shape[0]
        if self.arch == "dense":
            return f"dense {ins} → [" + ", ".join(map(str, self.hidden)) + f"] → {out}"
        if self.arch == "conv":
            layers = ", ".join(f"conv{f}" + ("+avgpool" if p else "") for f, p in zip(self.hidden, self.pool))
            return f"conv {ins} → [{layers}] → dense {out}"
        return f"rnn {ins} → [" + ", ".join(f"rnn{h}" for h in self.hidden) + f"] → dense {out}"

    def to_dict(self) -> dict:
        return {
            "arch": self.arch,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "hidden": list(self.hidden),
            "pool": list(self.pool),
            "summary": self.summary(),
        }


def _check_arch(arch: str) -> str:
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of: {', '.join(ARCHS)}")
    return arch


def min_conv_size(pool: tuple[bool, ...]) -> int:
    """Smallest H (= W) for which 3×3 valid convs and 2×2 pools leave at least 1×1."""
    size = 1
    for p in reversed(pool):
        if p:
            size *= 2  # floor(s/2) ≥ 1 needs s ≥ 2, and so on
        size += 2  # a 3×3 valid conv removes 2
    return size


def draw(arch: str, seed: int = 0) -> NetSpec:
    """Draw an architecture's sizes as the article's scripts did, but always ones that fit."""
    _check_arch(arch)
    g = torch.Generator().manual_seed(int(seed))

    def u(lo: int, hi: int) -> int:  # U{lo..hi}
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    if arch == "dense":
        n_in, n_layers = u(1, 128), u(1, 10)
        hidden = tuple(u(1, 1024) for _ in range(n_layers))
        return NetSpec("dense", (n_in,), (u(1, 128),), hidden)
    if arch == "conv":
        n_layers = u(1, 3)
        filters = tuple(u(1, 32) for _ in range(n_layers))
        pool = tuple(bool(u(0, 1)) for _ in range(n_layers))
        lo = min_conv_size(pool)
        return NetSpec("conv", (3, u(lo, 32), u(lo, 32)), (u(1, 128),), filters, pool)
    n_layers = u(1, 3)
    hidden = tuple(u(1, 128) for _ in range(n_layers))
    return NetSpec("rnn", (100, 5), (u(1, 128),), hidden)


class Act(nn.Module):
    """A registry activation as a module."""

    def __init__(self, name: str):
        super().__init__()
        self.spec = activations.get(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spec.fn(x)

    def extra_repr(self) -> str:
        return self.spec.name


class SimpleRNN(nn.Module):
    """h_t = σ(x_t Kᵀ + h_{t−1} Uᵀ + b), h_0 = 0 (Keras SimpleRNN; torch's RNN has no identity σ)."""

    def __init__(self, in_features: int, hidden: int, activation: str = "linear", return_sequences: bool = False):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(hidden, in_features))
        self.recurrent = nn.Parameter(torch.empty(hidden, hidden))
        self.bias = nn.Parameter(torch.empty(hidden))
        self.act = Act(activation)
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, T, F)
        h = x.new_zeros(x.shape[0], self.recurrent.shape[0])  # (N, H)
        xk = x @ self.kernel.T + self.bias  # (N, T, H), input terms for all steps at once
        outs = []
        for xk_t in xk.unbind(1):  # unbind, not xk[:, t]: its backward is one stack, not T zero-filled copies
            h = self.act(xk_t + h @ self.recurrent.T)  # (N, H)
            if self.return_sequences:
                outs.append(h)
        return torch.stack(outs, dim=1) if self.return_sequences else h


def _glorot_(t: torch.Tensor, g: torch.Generator) -> None:
    if t.ndim == 1:
        bound = math.sqrt(3.0 / t.shape[0])
        nn.init.uniform_(t, -bound, bound, generator=g)
    else:
        nn.init.xavier_uniform_(t, generator=g)


def build(spec: NetSpec, activation: str = "linear", seed: int = 0) -> nn.Sequential:
    """The module for ``spec``, float32, weights drawn from ``seed`` (same seed, same weights
    whatever the activation, so comparisons between activations are paired)."""
    act = activations.resolve(activation)
    g = torch.Generator().manual_seed(int(seed) + 1_000_003)  # independent of the size draw
    layers: list[nn.Module] = []
    if spec.arch == "dense":
        width = spec.in_shape[0]
        for h in spec.hidden:
            layers += [nn.Linear(width, h), Act(act)]
            width = h
        layers.append(nn.Linear(width, spec.out_shape[0]))
    elif spec.arch == "conv":
        c, hgt, wid = spec.in_shape
        for f, p in zip(spec.hidden, spec.pool):
            layers += [nn.Conv2d(c, f, 3), Act(act)]
            c, hgt, wid = f, hgt - 2, wid - 2
            if p:
                layers.append(nn.AvgPool2d(2))
                hgt, wid = hgt // 2, wid // 2
        assert hgt >= 1 and wid >= 1, "draw() guarantees the stack fits"
        layers += [nn.Flatten(), nn.Linear(c * hgt * wid, spec.out_shape[0])]
    elif spec.arch == "rnn":
        width = spec.in_shape[1]
        for i, h in enumerate(spec.hidden):
            layers.append(SimpleRNN(width, h, act, return_sequences=i < len(spec.hidden) - 1))
            width = h
        layers.append(nn.Linear(width, spec.out_shape[0]))
    else:
        _check_arch(spec.arch)
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, SimpleRNN):
                _glorot_(mod.kernel, g)
                nn.init.orthogonal_(mod.recurrent, generator=g)
                _glorot_(mod.bias, g)
            elif isinstance(mod, (nn.Linear, nn.Conv2d)):
                _glorot_(mod.weight, g)
                _glorot_(mod.bias, g)
    return model.eval()


def random_net(arch: str, seed: int = 0, activation: str = "linear") -> tuple[NetSpec, nn.Sequential]:
    """Draw sizes and weights from ``seed``: the article's E2/E3/E4 random network."""
    spec = draw(arch, seed)
    return spec, build(spec, activation, seed)


def spec_from_sizes(arch: str, **sizes: Any) -> NetSpec:
    """A fixed architecture (the benchmarks' largest configurations), checked to fit."""
    _check_arch(arch)
    if arch == "conv":
        spec = NetSpec("conv", tuple(sizes["in_shape"]), (sizes["out"],), tuple(sizes["hidden"]), tuple(sizes["pool"]))
        if min(spec.in_shape[1:]) < min_conv_size(spec.pool):
            raise ValueError(f"input {spec.in_shape} is too small for {spec.summary()}; needs ≥ {min_conv_size(spec.pool)}")
        return spec
    return NetSpec(arch, tuple(sizes["in_shape"]), (sizes["out"],), tuple(sizes["hidden"]))
