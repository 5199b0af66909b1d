"""A signal through depth, measured: each mean-field prediction (``actlab.signal``) against real
networks over seeds.

- ``phase_diagram`` (Schoenholz et al. 2017): deep tanh nets at weight variances across both
  phases, trained by ``train_many`` with plain SGD for a fixed step budget on a task where
  depth is not the difficulty (sklearn's bundled digits, odd against even: a two-layer net
  fits it). "Trained" means a training accuracy of at least ``trained_accuracy`` at the end of
  the budget. The paper's claim: nets deeper than about 6 ξ_c do not train.
- ``gradients``: the mean squared gradient of each layer's pre-activations relative to the last
  layer's, at initialisation, against χ₁^(L−l): vanishing in the ordered phase, exploding in the
  chaotic one, and sigmoid under Glorot's initialisation (Glorot & Bengio 2010) far inside the
  ordered phase.
- ``isometry`` (Pennington, Schoenholz & Ganguli 2017): the variance of the eigenvalues of J Jᵀ,
  J the input-output Jacobian (vectorised reverse mode), at the edge of chaos, Gaussian against
  orthogonal weights, against ``actlab.theory.jacobian_variance``.
- ``regions_at_init`` (Hanin & Rolnick 2019): linear regions at initialisation in the plane
  through three random inputs, under the paper's conditions (He-normal weights, biases of
  standard deviation 1e-3) and under torch's default; ``regions_signal`` explains the difference
  by the pre-activation variance through depth: under torch's default (σ_w² = 1/3) the signal
  shrinks six-fold per ReLU layer and the biases take over.

Every net is initialised by ``actlab.init`` or ``TrainConfig(init="gaussian")``: weights
N(0, σ_w²/fan_in), biases N(0, σ_b²).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import activations
from ..nets import Act
from .. import init as ainit
from .. import train as tr
from ..analysis.regions import regions
from ..datasets import digits_parity
from ..stats import quartiles, wilson
from ..theory import critical_sigma_w2, jacobian_variance, q_map, signal

__all__ = ["SignalConfig", "SignalResult", "SIGNAL_PRESETS", "run_signal", "phase_diagram", "gradients", "isometry",
           "regions_at_init", "regions_signal", "GRADIENT_POINTS", "preset", "theory_table"]

# (activation, init label, σ_w², σ_b²) of the gradient rows: an ordered and a chaotic point of tanh
# and relu, and sigmoid under Glorot's uniform initialisation (σ_w² = 1 between equal widths)
GRADIENT_POINTS = (
    ("tanh", "ordered", 1.0, 0.05),
    ("tanh", "chaotic", 4.0, 0.05),
    ("relu", "ordered", 1.5, 0.0),
    ("relu", "chaotic", 2.5, 0.0),
    ("sigmoid", "glorot", 1.0, 0.0),
)


@dataclass(frozen=True)
class SignalConfig:
    activation: str = "tanh"  # the phase diagram's activation (Schoenholz et al.'s)
    sigma_b2: float = 0.05  # its bias variance: the critical σ_w² is 1.761 there
    sigma_w2s: tuple[float, ...] = (0.5, 0.8, 1.2, 1.761, 2.5, 4.0, 8.0)  # both phases and the edge
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64)  # hidden layers
    width: int = 32  # the trained nets' hidden width
    seeds: int = 4  # trained nets per cell
    steps: int = 250  # plain SGD steps, full batch (the fixed budget)
    lr: float = 0.05  # SGD's step on the cross-entropy of the output logit
    rows: int = 256  # training digits (odd against even)
    trained_accuracy: float = 0.9  # "trained": this training accuracy at the end (the majority class is 0.51)
    grad_width: int = 512  # widths at which the mean field holds for the gradient rows
    grad_depth: int = 12  # layers of the gradient nets
    grad_seeds: int = 4
    grad_inputs: int = 16  # inputs whose gradients are averaged, per net
    iso_depths: tuple[int, ...] = (2, 4, 8)  # layers of the Jacobian nets
    iso_width_per_layer: int = 100  # width = this × depth (finite-width effects grow with depth/width)
    iso_seeds: int = 3
    iso_sigma_b2: tuple[float, ...] = (1e-3, 0.05)  # tanh and hardtanh on the critical line: smaller q* → closer to isometry
    reg_neurons: tuple[int, ...] = (16, 32, 64)  # total hidden ReLUs, split over the depths
    reg_depths: tuple[int, ...] = (1, 2, 4)
    reg_nets: int = 20  # initialisations per cell (the median is reported)
    reg_dim: int = 16  # input dimension; the plane passes through three N(0, I) inputs
    reg_bias_std: float = 1e-3  # the He condition's bias standard deviation (Hanin & Rolnick's)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.activation == tr.MAXOUT:
            raise ValueError("maxout has no mean-field theory here (not elementwise); choose an elementwise activation")
        activations.resolve(self.activation)
        for name in ("sigma_w2s", "iso_sigma_b2"):
            v = getattr(self, name)
            if not v or any(not (isinstance(x, (int, float)) and 0 <= x < math.inf) for x in v) or (name == "sigma_w2s" and min(v) <= 0):
                raise ValueError(f"{name} must be one or more finite variances{' > 0' if name == 'sigma_w2s' else ' ≥ 0'}, got {v!r}")
        for name in ("depths", "iso_depths", "reg_neurons", "reg_depths"):
            v = getattr(self, name)
            if not v or any(not isinstance(x, int) or x < 1 for x in v):
                raise ValueError(f"{name} must be one or more integers ≥ 1, got {v!r}")
        for name in ("width", "seeds", "steps", "rows", "grad_width", "grad_depth", "grad_seeds", "grad_inputs",
                     "iso_width_per_layer", "iso_seeds", "reg_nets", "reg_dim"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer ≥ 1, got {v!r}")
        if not 0 < self.trained_accuracy <= 1:
            raise ValueError(f"trained_accuracy must be in (0, 1], got {self.trained_accuracy!r}")
        if not (self.sigma_b2 >= 0 and self.lr > 0 and self.reg_bias_std >= 0):
            raise ValueError("sigma_b2 and reg_bias_std must be ≥ 0, lr > 0")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


SIGNAL_PRESETS = {
    "full": SignalConfig(),  # ≈ 100 s on 2 cores
    "report": SignalConfig(depths=(2, 4, 8, 16, 32), width=16, seeds=2, steps=100, rows=64, grad_width=256,
                           grad_depth=8, grad_seeds=2, iso_depths=(2, 4), iso_seeds=1, iso_sigma_b2=(0.05,),
                           reg_neurons=(16, 32), reg_nets=8),  # ≈ 6 s
    "quick": SignalConfig(sigma_w2s=(0.5, 1.761, 8.0), depths=(2, 6, 18), width=8, seeds=2, steps=50, rows=64,
                          grad_width=128, grad_depth=6, grad_seeds=2, grad_inputs=8, iso_depths=(2,), iso_seeds=1,
                          iso_sigma_b2=(0.05,), reg_neurons=(16,), reg_depths=(1, 4), reg_nets=4),
    # `actlab demo --quick`'s section 7: the quick grid, thinner still
    "glance": SignalConfig(sigma_w2s=(0.5, 1.761, 8.0), depths=(2, 6, 18), width=8, seeds=2, steps=20, rows=32,
                           grad_width=64, grad_depth=6, grad_seeds=1, grad_inputs=4, iso_depths=(2,), iso_seeds=1,
                           iso_sigma_b2=(0.05,), reg_neurons=(16,), reg_depths=(1, 4), reg_nets=2),
}


# ------------------------------------------------------------------------------ phase diagram


def _transpose(rows: list[list]) -> list[list]:
    return [list(r) for r in zip(*rows)]


def phase_diagram(config: SignalConfig, progress: Callable[[int], None] | None = None) -> dict:
    """The fraction of seeds trained per (σ_w², depth), beside ξ_c and the 6 ξ_c line."""
    X, y = digits_parity(config.rows, config.seed)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    xi = [signal(config.activation, s, config.sigma_b2).xi_c for s in config.sigma_w2s]
    trained, ci, acc = [], [], []
    for depth in config.depths:
        cfgs = [tr.TrainConfig(hidden=(config.width,) * depth, activation=config.activation, init="gaussian", sigma_w2=s,
                               sigma_b2=config.sigma_b2, optimizer="sgd", lr=config.lr, n_steps=config.steps, loss="bce",
                               record_every=0) for s in config.sigma_w2s]
        runs = tr.train_many(cfgs, X, y, torch.arange(config.seeds) + 1000 * config.seed)
        row_t, row_ci, row_a = [], [], []
        for cfg, run in zip(cfgs, runs):
            with torch.no_grad():
                a = ((tr.forward(cfg, run.params, Xt) > 0).float() == yt).float().mean(1)  # (S,)
            a = torch.nan_to_num(a, nan=0.0)
            k = int((a >= config.trained_accuracy).sum())
            row_t.append(k / config.seeds)
            row_ci.append(list(wilson(k, config.seeds)))
            row_a.append(float(a.median()))
        trained.append(row_t)
        ci.append(row_ci)
        acc.append(row_a)
        if progress:
            progress(depth)
    trained, ci, acc = _transpose(trained), _transpose(ci), _transpose(acc)  # [σ_w²][depth], as the JSON promises
    predicted = [[d <= 6 * x for d in config.depths] for x in xi]
    agree = [[(t >= 0.5) == p for t, p in zip(tr_row, p_row)] for tr_row, p_row in zip(trained, predicted)]
    return {"activation": config.activation, "sigma_b2": config.sigma_b2, "dataset": "digits_parity",
            "dataset_note": f"{config.rows} of sklearn's 8×8 digits, odd against even, pixels standardised",
            "trained_means": f"training accuracy ≥ {config.trained_accuracy:g} after {config.steps} full-batch SGD steps "
                             f"(lr {config.lr:g}, cross-entropy); the majority class is {max(y.mean(), 1 - y.mean()):.2f}",
            "sigma_w2": list(config.sigma_w2s), "depths": list(config.depths), "width": config.width,
            "critical_sigma_w2": critical_sigma_w2(config.activation, config.sigma_b2),
            "xi_c": [x if math.isfinite(x) else None for x in xi],  # None: ∞, at the edge of chaos
            "trained": trained, "trained_ci": ci, "median_accuracy": acc,
            "predicted_trainable": predicted, "agrees": agree,
            "agreement": sum(map(sum, agree)) / (len(config.depths) * len(config.sigma_w2s)),
            "seeds": config.seeds, "steps": config.steps, "lr": config.lr}


# ------------------------------------------------------------------------------ gradients


def _mlp(width: int, depth: int, activation: str, dtype=torch.float64) -> nn.Sequential:
    """``depth`` layers Linear(width, width) → φ, the last without φ (its output is the
    pre-activation h_L)."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width, dtype=dtype), Act(activation)]
    return nn.Sequential(*layers[:-1])


def _inputs(n: int, width: int, q1: float, sigma_w2: float, sigma_b2: float, g: torch.Generator) -> torch.Tensor:
    """(n, width) inputs whose first pre-activations have variance q1: |x|²/width = (q1 − σ_b²)/σ_w²."""
    x = torch.randn(n, width, generator=g, dtype=torch.float64)
    x *= math.sqrt(max(q1 - sigma_b2, 1e-12) / sigma_w2) / x.pow(2).mean(1, keepdim=True).sqrt()
    return x


def _start_variance(activation: str, sigma_w2: float, sigma_b2: float) -> float:
    """Inputs start at the fixed point q* (where the theory linearises), or at 1 where q* is 0 or ∞."""
    q = signal(activation, sigma_w2, sigma_b2).q_star
    return q if 0 < q < math.inf else 1.0


def gradients(config: SignalConfig) -> list[dict]:
    """Per GRADIENT_POINTS and layer l = 1..L: E|∂ℓ/∂h_l|² / E|∂ℓ/∂h_L|² over seeds and inputs,
    ℓ = v·h_L with v ~ N(0, I), against χ₁^(L−l)."""
    L, n = config.grad_depth, config.grad_width
    rows = []
    for act, label, w2, b2 in GRADIENT_POINTS:
        chi1 = signal(act, w2, b2).chi1
        q1 = _start_variance(act, w2, b2)
        sums = torch.zeros(L, dtype=torch.float64)
        for s in range(config.grad_seeds):
            g = torch.Generator().manual_seed(config.seed * 1009 + s)
            net = _mlp(n, L, act)
            if label == "glorot":
                for m in net:
                    if isinstance(m, nn.Linear):
                        nn.init.xavier_uniform_(m.weight, generator=g)
                        nn.init.zeros_(m.bias)
            else:
                ainit.init_(net, w2, b2, generator=g)
            x = _inputs(config.grad_inputs, n, q1, w2, b2, g)
            hs = []
            h = x
            for m in net:
                h = m(h)
                if isinstance(m, nn.Linear):
                    h.retain_grad()
                    hs.append(h)
            v = torch.randn(h.shape, generator=g, dtype=torch.float64)
            (h * v).sum().backward()
            sums += torch.stack([z.grad.pow(2).mean() for z in hs])
        measured = (sums / sums[-1]).tolist()
        for l in range(1, L + 1):
            rows.append({"activation": act, "init": label, "sigma_w2": w2, "sigma_b2": b2, "chi1": chi1, "layer": l,
                         "depth": L, "width": n, "seeds": config.grad_seeds, "measured": measured[l - 1],
                         "predicted": chi1 ** (L - l)})
    return rows


# ------------------------------------------------------------------------------ isometry


def _jacobian_eigs(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of J Jᵀ, J = ∂φ(h_L)/∂x at one input x: every row's vector-Jacobian product at
    once (``torch.autograd.functional.jacobian``, vectorised; ``torch.func.jacrev`` computes the
    same, tested, but imports torch._dynamo: a second more per process)."""
    J = torch.autograd.functional.jacobian(net, x, vectorize=True, strategy="reverse-mode")  # (width, width)
    J = J.detach().to(torch.float64)
    return torch.linalg.eigvalsh(J @ J.T)


def _isometry_points(config: SignalConfig) -> list[tuple[str, float]]:
    """(activation, σ_b²) on the critical line: linear and relu at σ_b² = 0, tanh and hardtanh at each iso_sigma_b2."""
    return [("linear", 0.0), ("relu", 0.0)] + [(a, b) for a in ("hardtanh", "tanh") for b in config.iso_sigma_b2]


def isometry(config: SignalConfig) -> list[dict]:
    """Variance of J Jᵀ's eigenvalues at criticality, Gaussian and orthogonal weights, against the law."""
    rows = []
    for act, b2 in _isometry_points(config):
        w2 = 1.0 if act == "linear" else critical_sigma_w2(act, b2)
        q1 = _start_variance(act, w2, b2)
        for dist in ("gaussian", "orthogonal"):
            for depth in config.iso_depths:
                width = config.iso_width_per_layer * depth
                variances, means = [], []
                for s in range(config.iso_seeds):
                    g = torch.Generator().manual_seed(config.seed * 7919 + 31 * depth + s)
                    net = nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(width, width), Act(act))])
                    ainit.init_(net, w2, b2, dist=dist, generator=g)
                    x = _inputs(1, width, q1, w2, b2, g)[0].float()
                    lam = _jacobian_eigs(net, x)
                    variances.append(float(lam.var(unbiased=False)))
                    means.append(float(lam.mean()))
                rows.append({"activation": act, "init": dist, "depth": depth, "width": width, "sigma_w2": w2, "sigma_b2": b2,
                             "q_star": signal(act, w2, b2).q_star if act != "relu" else None, "seeds": config.iso_seeds,
                             "variance": float(np.mean(variances)), "mean_eigenvalue": float(np.mean(means)),
                             "predicted_variance": jacobian_variance(act, depth, b2, dist=dist, sigma_w2=w2)})
    return rows


# ------------------------------------------------------------------------------ regions at initialisation


INITS = ("he", "torch_default")  # Hanin & Rolnick's conditions, and nn.Linear's own
SIGNAL_NETS = 400  # nets whose pre-activation variance is averaged (narrow ReLU layers: heavy-tailed, the mean needs many)


def _relu_net(widths: list[int], init: str, bias_std: float, g: torch.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        lin = nn.Linear(a, b, dtype=torch.float64)
        with torch.no_grad():
            if init == "he":
                lin.weight.normal_(0.0, math.sqrt(2.0 / a), generator=g)
                lin.bias.normal_(0.0, bias_std, generator=g)
            else:  # nn.Linear's reset_parameters: U(±1/√fan_in) for weights and biases
                bound = 1.0 / math.sqrt(a)
                lin.weight.uniform_(-bound, bound, generator=g)
                lin.bias.uniform_(-bound, bound, generator=g)
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def regions_at_init(config: SignalConfig) -> list[dict]:
    """Median and quartiles of the regions in the parallelogram spanned by three random inputs
    (plane coordinates [0, 1]²) per (init, neurons N, depth d): d layers of N/d ReLUs."""
    rows = []
    for init in INITS:
        for N in config.reg_neurons:
            for d in config.reg_depths:
                if N % d:
                    continue
                g = torch.Generator().manual_seed(config.seed * 104729 + N * 31 + d)
                counts = []
                for _ in range(config.reg_nets):
                    x = torch.randn(3, config.reg_dim, generator=g, dtype=torch.float64)
                    net = _relu_net([config.reg_dim] + [N // d] * d + [1], init, config.reg_bias_std, g)
                    counts.append(regions(net, (0.0, 1.0, 0.0, 1.0), plane=(x[0], x[1] - x[0], x[2] - x[0])).count)
                q = quartiles(counts)
                rows.append({"init": init, "neurons": N, "depth": d, "width": N // d, "median": q["median"], "q1": q["q25"],
                             "q3": q["q75"], "nets": config.reg_nets})
    return rows


def regions_signal(config: SignalConfig) -> list[dict]:
    """Per init and hidden layer of the deepest, widest region nets: the pre-activation variance
    q_l predicted by the q map (layer by layer: torch's default has σ_w² = 1/3 and σ_b² =
    1/(3 fan_in)) beside the measured one, and the share of it that the bias makes."""
    N, d = max(config.reg_neurons), max(config.reg_depths)
    widths = [config.reg_dim] + [max(N // d, 1)] * d
    rows = []
    for init in INITS:
        g = torch.Generator().manual_seed(config.seed + 17)
        x = torch.randn(256, config.reg_dim, generator=g, dtype=torch.float64)
        sums = torch.zeros(d, dtype=torch.float64)
        for _ in range(SIGNAL_NETS):
            h = x
            net = _relu_net(widths + [1], init, config.reg_bias_std, g)
            for i, m in enumerate(list(net)[: 2 * d : 2]):
                z = m(h if i == 0 else torch.relu(h))
                sums[i] += z.detach().pow(2).mean()
                h = z
        q = float(x.pow(2).mean())  # q⁰ = |x|²/d_in
        for l, fan_in in enumerate(widths[:-1], start=1):
            w2, b2 = (2.0, config.reg_bias_std**2) if init == "he" else (1 / 3, 1 / (3 * fan_in))
            q = w2 * q + b2 if l == 1 else float(q_map("relu", [q], w2, b2)[0])
            rows.append({"init": init, "layer": l, "sigma_w2": w2, "sigma_b2": b2, "q_predicted": q,
                         "q_measured": float(sums[l - 1]) / SIGNAL_NETS, "nets": SIGNAL_NETS, "bias_share": b2 / q})
    return rows


# ------------------------------------------------------------------------------ the whole study


@dataclass
class SignalResult:
    config: SignalConfig
    theory: list[dict]
    phase_diagram: dict
    gradients: list[dict]
    isometry: list[dict]
    regions_at_init: list[dict]
    regions_signal: list[dict]
    seconds: dict

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "theory": self.theory, "phase_diagram": self.phase_diagram,
                "gradients": self.gradients, "isometry": self.isometry, "regions_at_init": self.regions_at_init,
                "regions_signal": self.regions_signal, "seconds": self.seconds}

    def _repr_html_(self) -> str:
        from .._html import signal_study_html

        return signal_study_html(self.to_dict())


def theory_table(sigma_b2: float = 0.05) -> list[dict]:
    """The critical point, q* and the depth scales there, for the activations the study measures."""
    rows = []
    for act, b2 in (("tanh", sigma_b2), ("hardtanh", sigma_b2), ("relu", 0.0), ("linear", 0.0)):
        try:
            w2 = critical_sigma_w2(act, b2)
        except ValueError:
            continue
        s = signal(act, w2, b2)
        rows.append({"activation": act, "sigma_b2": b2, "critical_sigma_w2": w2, "q_star": s.q_star if math.isfinite(s.q_star) else None,
                     "chi1": s.chi1})
    return rows


def run_signal(config: SignalConfig = SignalConfig(), progress: Callable[[str], None] | None = None) -> SignalResult:
    """Every part of the study; ``progress(part)`` after each ("phase_diagram", "gradients",
    "isometry", "regions")."""
    seconds, out = {}, {}
    parts = (("theory", lambda: theory_table(config.sigma_b2)), ("phase_diagram", lambda: phase_diagram(config)),
             ("gradients", lambda: gradients(config)), ("isometry", lambda: isometry(config)),
             ("regions_at_init", lambda: regions_at_init(config)), ("regions_signal", lambda: regions_signal(config)))
    for name, fn in parts:
        t0 = time.perf_counter()
        out[name] = fn()
        seconds[name] = time.perf_counter() - t0
        if progress:
            progress(name)
    return SignalResult(config, seconds=seconds, **out)


def preset(name: str, seed: int = 0) -> SignalConfig:
    if name not in SIGNAL_PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of: {', '.join(SIGNAL_PRESETS)}")
    return replace(SIGNAL_PRESETS[name], seed=seed)
