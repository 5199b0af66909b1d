"""Small networks the affine tests share."""

import torch
from torch import nn

import actlab


def linear_stack(seed: int, widths, bias: bool = True) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(*[nn.Linear(a, b, bias=bias) for a, b in zip(widths[:-1], widths[1:])]).double()


def article_conv_net(activation: str = "linear") -> tuple[tuple[int, ...], nn.Module]:
    spec = actlab.nets.spec_from_sizes("conv", in_shape=(3, 32, 32), out=128, hidden=(32, 32, 32), pool=(True, True, False))
    return spec.in_shape, actlab.nets.build(spec, activation, seed=0)


def reset_from_seed(model: nn.Module) -> None:
    """Draw every layer's weights again from the global generator (just seeded by the test):
    layers built inside a strategy take whatever state it had, so a replayed example would get
    other weights (hypothesis then reports a failure as flaky instead of shrinking it)."""
    for mod in model.modules():
        if hasattr(mod, "reset_parameters") and mod is not model:
            mod.reset_parameters()
