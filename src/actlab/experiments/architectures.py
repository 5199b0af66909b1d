"""The article's three architectures at infinite width: its dense net, its convolutional net with
average pooling and its recurrent net, each with the identity activation against ReLU and tanh,
on a task a linear model cannot solve.

For each (architecture, activation): the test accuracy of the infinitely wide network trained to
convergence (``actlab.predict``: the NTK's gradient flow on the squared loss, with a small ridge),
of finite networks of the same architecture trained by Adam over seeds (median and quartiles),
and of least squares on (x, 1), the article's OLS. Without an activation the infinite network's
kernel is linear in the inputs, so its prediction is a linear model's: chance on these tasks,
like OLS; with one it solves them, as the trained finite networks do.

Tasks (``datasets``): dense — the circle (2-D); conv — ``xor_images``, 8 × 8 RGB noise whose red
and green channels are shifted by independent signs, label "the signs agree"; rnn —
``xor_sequences``, the same XOR over 8 time steps of two features.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .. import datasets, nets
from ..stats import quartiles
from ..theory import predict

__all__ = ["ARCHS", "architectures", "arch_task", "arch_model"]

ARCHS = ("dense", "conv", "rnn")
_TASKS = {"dense": "circle", "conv": "xor_images", "rnn": "xor_sequences"}


def arch_task(arch: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, y) float64: ``n`` examples of the architecture's task, drawn by ``seed``."""
    if arch == "dense":
        d = datasets.make("circle", n, 0.05, seed)
        X, y = d.X, d.y
    elif arch == "conv":
        X, y = datasets.xor_images(n, seed=seed)
    else:
        X, y = datasets.xor_sequences(n, seed=seed)
    return torch.from_numpy(X), torch.from_numpy(y)


def arch_model(arch: str, activation: str, width: int, seed: int = 0) -> torch.nn.Module:
    """The article's network of this architecture (``actlab.nets``) at ``width``: dense 2 → w → w → 1,
    conv 3×3 → act → 2×2 average pool → 3×3 → act → flatten → 1, rnn (8 steps, 2 features) → w → 1."""
    sizes = {"dense": dict(in_shape=(2,), out=1, hidden=(width, width)),
             "conv": dict(in_shape=(3, 8, 8), out=1, hidden=(width, width), pool=(True, False)),
             "rnn": dict(in_shape=(8, 2), out=1, hidden=(width,))}[arch]
    return nets.build(nets.spec_from_sizes(arch, **sizes), activation, seed)


def _accuracy(scores: torch.Tensor, y: torch.Tensor) -> float:
    return float((scores.reshape(-1) > 0.5).eq(y > 0.5).double().mean())


def _chance(y: torch.Tensor) -> float:
    share = float(np.mean(y.numpy() > 0.5))
    return max(share, 1 - share)


def _least_squares(X, y, Xt, yt) -> float:
    design = lambda a: torch.cat([a.reshape(len(a), -1), torch.ones(len(a), 1, dtype=a.dtype)], 1)  # noqa: E731
    w = torch.linalg.lstsq(design(X), y[:, None], driver="gelsd").solution
    return _accuracy(design(Xt) @ w, yt)


def _trained(arch, activation, X, y, Xt, yt, width, seeds, steps) -> list[float]:
    """Test accuracy of ``seeds`` finite networks trained by full-batch Adam (lr 0.01) on the squared loss."""
    out = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = arch_model(arch, activation, width, seed).train()
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        xf, yf = X.float(), y.float()[:, None]
        for _ in range(steps):
            opt.zero_grad()
            loss = ((model(xf) - yf) ** 2).mean()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out.append(_accuracy(model(Xt.float()).double(), yt))
    return out


def architectures(config, progress: Callable[[str], None] | None = None) -> list[dict]:
    """[{arch, task, activation, accuracy_infinite, accuracy_trained, trained_q25, trained_q75,
    accuracy_least_squares, points, width, seeds, steps}] for ``config.arch_activations`` on each
    of ``ARCHS`` (``config``: a KernelsConfig)."""
    rows = []
    for arch in ARCHS:
        X, y = arch_task(arch, config.arch_points, config.seed)
        Xt, yt = arch_task(arch, config.arch_points, config.seed + 1)
        ols = _least_squares(X, y, Xt, yt)
        for act in config.arch_activations:
            p = predict(arch_model(arch, act, 4), X, y, Xt, get="ntk", sigma_w2=config.sigma_w2, sigma_b2=config.sigma_b2,
                        diag_reg=config.ridge)
            acc = _trained(arch, act, X, y, Xt, yt, config.arch_width, config.arch_seeds, config.arch_steps)
            q = quartiles(acc)
            rows.append({"arch": arch, "task": _TASKS[arch], "activation": act, "accuracy_infinite": _accuracy(p.mean, yt),
                         "accuracy_trained": q["median"], "trained_q25": q["q25"], "trained_q75": q["q75"],
                         "accuracy_least_squares": ols, "points": config.arch_points, "width": config.arch_width,
                         "seeds": config.arch_seeds, "steps": config.arch_steps, "accuracy_chance": _chance(yt)})
        if progress:
            progress(arch)
    return rows
