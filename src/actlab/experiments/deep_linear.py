"""Linear map, nonlinear learning: the dynamics of deep linear networks (Saxe, McClelland &
Ganguli 2014, "Exact solutions to the nonlinear dynamics of learning in deep linear neural
networks").

The task: whitened inputs X (P, n_in) with XᵀX/P = I and targets Y = X Mᵀ, M = U S Vᵀ, so that
the input–output correlation Σ₃₁ = YᵀX/P is M. The loss is ½·mean_μ ‖y_μ − W x_μ‖² and W is
trained by full-batch gradient descent with learning rate λ (τ = 1/λ steps).

One hidden layer, W = W₂W₁, from the paper's decoupled initial conditions
W₁ = Σ_α √a₀ r_α v_αᵀ, W₂ = Σ_α √a₀ u_α r_αᵀ (r_α orthonormal): each mode's strength
a = u_αᵀ W v_α follows, in continuous time,

    a(t) = s·e^{2st/τ} / (e^{2st/τ} − 1 + s/a₀),     t½ = (τ/2s)·ln(s/a₀ − 1)

— a plateau, then a sigmoidal jump, the strongest mode first. The shallow model (W trained
directly from W = a₀ Σ u vᵀ) approaches each s exponentially: a(t) = s + (a₀ − s)·e^{−t/τ}.
The measured strengths are read off ``actlab.collapse`` of the network at every checkpoint:
the network is one certified linear map at every step while it learns along a nonlinear path.

The depth sweep trains deeper linear nets (N hidden layers of width n) on the same kind of
task from small random Gaussian, scaled Gaussian (variance 1/n) and random orthogonal initial
weights, with the learning rate divided by the number of weight layers, and counts the steps
until 99 % of ‖M‖² is learned. With whitened inputs the loss is ½‖M − W_L⋯W₁‖²_F plus a
constant, and its gradient for layer l is −(W_L⋯W_{l+1})ᵀ(M − W)(W_{l−1}⋯W₁)ᵀ: every seed and
initialisation is one row of a batched matrix product.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..affine import collapse
from ..stats import quartiles

__all__ = [
    "SaxeConfig",
    "WhitenedTask",
    "whitened_task",
    "saxe_strength",
    "shallow_strength",
    "half_time",
    "run_saxe",
    "run_depth_sweep",
    "DEPTH_INITS",
]

DEPTH_INITS = ("small random", "scaled gaussian", "orthogonal")


@dataclass(frozen=True)
class SaxeConfig:
    singular_values: tuple[float, ...] = (3.0, 2.0, 1.0, 0.5)  # s of M = U S Vᵀ: distinct, one mode each
    n_in: int = 6  # input dimension (whitened)
    n_out: int = 5  # output dimension
    n_hidden: int = 4  # hidden width of the one-hidden-layer net (≥ the number of modes)
    n_samples: int = 32  # P rows of X
    lr: float = 0.005  # λ; τ = 1/λ = 200 steps
    a0: float = 1e-3  # every mode's initial strength: small, so the plateau is visible
    n_steps: int = 4000  # the weakest mode (s = 0.5) is half learned near step 1,240
    checkpoint_every: int = 20  # collapse and read the modes every this many steps
    depths: tuple[int, ...] = (1, 2, 3, 4, 6)  # hidden layers in the depth sweep
    depth_width: int = 8  # n: every layer of the depth sweep is n × n
    depth_seeds: int = 16  # random initialisations per depth and scheme
    depth_lr: float = 0.05  # the sweep's λ, divided by the number of weight layers
    depth_max_steps: int = 6000  # the sweep stops counting here (a run that has not learned is 'not reached')
    small_init: float = 0.1  # the small random scheme's per-layer gain (entries N(0, (gain²/n)))
    seed: int = 0  # the task's bases and the initial weights

    def __post_init__(self) -> None:
        s = tuple(float(v) for v in self.singular_values)
        if len(s) < 1 or any(not (math.isfinite(v) and v > 0) for v in s) or len(set(s)) != len(s):
            raise ValueError(f"singular_values must be distinct positive numbers, got {self.singular_values!r}")
        object.__setattr__(self, "singular_values", s)
        k = len(s)
        for name, low in (("n_in", k), ("n_out", k), ("n_hidden", k), ("n_samples", self.n_in), ("n_steps", 1),
                          ("checkpoint_every", 1), ("depth_width", k), ("depth_seeds", 1), ("depth_max_steps", 1)):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
                raise ValueError(f"{name} must be an integer ≥ {low} (for {k} modes), got {value!r}")
        if not self.depths or any(not isinstance(d, int) or d < 1 for d in self.depths):
            raise ValueError(f"depths must be hidden-layer counts ≥ 1, got {self.depths!r}")
        for name in ("lr", "a0", "depth_lr", "small_init"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.a0 >= min(s) / 2:
            raise ValueError(f"a0 must be below half the smallest singular value ({min(s) / 2}), got {self.a0}")

    @property
    def tau(self) -> float:
        return 1.0 / self.lr

    def to_dict(self) -> dict:
        d = asdict(self)
        d["singular_values"], d["depths"] = list(self.singular_values), list(self.depths)
        return d


@dataclass(frozen=True)
class WhitenedTask:
    X: torch.Tensor  # (P, n_in), XᵀX/P = I
    Y: torch.Tensor  # (P, n_out) = X Mᵀ
    U: torch.Tensor  # (n_out, k) left singular vectors of M
    S: torch.Tensor  # (k,) singular values
    V: torch.Tensor  # (n_in, k) right singular vectors


def _orthonormal(rows: int, cols: int, g: torch.Generator) -> torch.Tensor:
    """(rows, cols) with orthonormal columns (rows ≥ cols), from the QR of a Gaussian matrix."""
    q, r = torch.linalg.qr(torch.randn(rows, cols, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def whitened_task(singular_values, n_in: int, n_out: int, n_samples: int, seed: int = 0) -> WhitenedTask:
    """A regression task whose input–output correlation is exactly U diag(s) Vᵀ."""
    g = torch.Generator().manual_seed(seed)
    S = torch.tensor(singular_values, dtype=torch.float64)
    U, V = _orthonormal(n_out, S.numel(), g), _orthonormal(n_in, S.numel(), g)
    X = math.sqrt(n_samples) * _orthonormal(n_samples, n_in, g)  # (P, n_in)
    Y = X @ (V * S) @ U.T  # (P, n_out): y = M x with M = U S Vᵀ
    return WhitenedTask(X=X, Y=Y, U=U, S=S, V=V)


def saxe_strength(t, s: float, a0: float, tau: float) -> torch.Tensor:
    """a(t) = s·e^{2st/τ} / (e^{2st/τ} − 1 + s/a₀), in the stable form s / (1 + (s/a₀ − 1)·e^{−2st/τ})."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return s / (1 + (s / a0 - 1) * torch.exp(-2 * s * t / tau))


def shallow_strength(t, s: float, a0: float, tau: float) -> torch.Tensor:
    """a(t) = s + (a₀ − s)·e^{−t/τ}: the exponential approach of a model with no hidden layer."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return s + (a0 - s) * torch.exp(-t / tau)


def half_time(s: float, a0: float, tau: float) -> float:
    """t½ = (τ/2s)·ln(s/a₀ − 1): when a one-hidden-layer mode reaches s/2."""
    return tau / (2 * s) * math.log(s / a0 - 1)


def _r2(measured: torch.Tensor, model: torch.Tensor) -> float:
    ss_res = float(((measured - model) ** 2).sum())
    ss_tot = float(((measured - measured.mean()) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def _crossing(t: torch.Tensor, a: torch.Tensor, level: float) -> float | None:
    """The first t at which a reaches ``level``, linearly interpolated; None if it never does."""
    above = torch.nonzero(a >= level).flatten()
    if above.numel() == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(t[0])
    t0, t1, a0, a1 = float(t[i - 1]), float(t[i]), float(a[i - 1]), float(a[i])
    return t0 + (level - a0) / (a1 - a0) * (t1 - t0)


def _best_exponential_r2(t: torch.Tensor, a: torch.Tensor, s: float, a0: float) -> tuple[float, float]:
    """The best single exponential s + (a₀ − s)·e^{−t/k} over k (a log grid): (R², k)."""
    ks = torch.logspace(0, math.log10(100 * float(t[-1]) + 1), 400, dtype=torch.float64)  # (K,)
    fits = s + (a0 - s) * torch.exp(-t[None, :] / ks[:, None])  # (K, T)
    sse = ((fits - a[None, :]) ** 2).sum(dim=1)
    best = int(torch.argmin(sse))
    return _r2(a, fits[best]), float(ks[best])


def _decoupled_net(task: WhitenedTask, config: SaxeConfig, g: torch.Generator) -> nn.Sequential:
    """W₁ = Σ √a₀ r_α v_αᵀ, W₂ = Σ √a₀ u_α r_αᵀ: every mode at strength a₀, none mixed."""
    k = task.S.numel()
    R = _orthonormal(config.n_hidden, k, g)  # (n_hidden, k)
    net = nn.Sequential(nn.Linear(config.n_in, config.n_hidden, bias=False),
                        nn.Linear(config.n_hidden, config.n_out, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(math.sqrt(config.a0) * R @ task.V.T)
        net[1].weight.copy_(math.sqrt(config.a0) * task.U @ R.T)
    return net


def _train_and_read(net: nn.Module, task: WhitenedTask, config: SaxeConfig) -> dict:
    """Full-batch gradient descent on ½·mean ‖y − f(x)‖² (autograd's gradients, W ← W − λ∇W: what
    torch.optim.SGD does, whose first use imports torch._dynamo, ~2 s); at every checkpoint the
    net is collapsed (and certified) and each mode's strength uᵀ W v read off its map."""
    params = list(net.parameters())
    steps, strengths, residuals, losses = [], [], [], []
    for step in range(config.n_steps + 1):
        if step % config.checkpoint_every == 0 or step == config.n_steps:
            amap = collapse(net, in_shape=(config.n_in,), seed=step)
            strengths.append(torch.einsum("ok,oi,ik->k", task.U, amap.weight, task.V))  # (k,)
            residuals.append(float(amap.residual))
            steps.append(step)
        if step == config.n_steps:
            break
        loss = 0.5 * (task.Y - net(task.X)).square().sum(dim=1).mean()
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g, alpha=config.lr)
    return {"t": torch.tensor(steps, dtype=torch.float64), "a": torch.stack(strengths, dim=1),  # (k, T)
            "residuals": residuals, "tolerance": float(amap.tolerance), "loss": losses}


def run_saxe(config: SaxeConfig = SaxeConfig()) -> dict:
    """The one-hidden-layer net and the shallow model on one task: measured strengths against
    the analytic curves, per mode."""
    task = whitened_task(config.singular_values, config.n_in, config.n_out, config.n_samples, config.seed)
    g = torch.Generator().manual_seed(config.seed + 1)
    deep = _train_and_read(_decoupled_net(task, config, g), task, config)
    shallow_net = nn.Linear(config.n_in, config.n_out, bias=False).double()
    with torch.no_grad():
        shallow_net.weight.copy_(config.a0 * task.U @ task.V.T)
    shallow = _train_and_read(nn.Sequential(shallow_net), task, config)
    t, tau = deep["t"], config.tau
    modes, shallow_modes = [], []
    for i, s in enumerate(config.singular_values):
        analytic = saxe_strength(t, s, config.a0, tau)
        measured = deep["a"][i]
        exp_r2, exp_k = _best_exponential_r2(t, measured, s, config.a0)
        modes.append({
            "s": s, "a0": config.a0, "tau": tau, "t": t.tolist(), "measured": measured.tolist(),
            "analytic": analytic.tolist(), "r2": _r2(measured, analytic),
            "half_time_measured": _crossing(t, measured, s / 2), "half_time_predicted": half_time(s, config.a0, tau),
            "single_exponential_r2": exp_r2, "single_exponential_tau": exp_k,
        })
        sh_an = shallow_strength(t, s, config.a0, tau)
        shallow_modes.append({"s": s, "a0": config.a0, "tau": tau, "measured": shallow["a"][i].tolist(),
                              "analytic": sh_an.tolist(), "r2": _r2(shallow["a"][i], sh_an),
                              "half_time_measured": _crossing(t, shallow["a"][i], (s + config.a0) / 2),
                              "half_time_predicted": tau * math.log(2)})
    return {
        "hidden_layers": 1,
        "collapse_residual_max": max(deep["residuals"] + shallow["residuals"]),
        "collapse_tolerance": deep["tolerance"],
        "n_checkpoints": len(deep["residuals"]),
        "modes": modes,
        "loss": deep["loss"][:: config.checkpoint_every],
        "shallow": {"modes": shallow_modes, "loss": shallow["loss"][:: config.checkpoint_every]},
    }


# ------------------------------------------------------------------------------- depth


def _initial_layers(scheme: str, n_layers: int, n: int, n_seeds: int, small: float, g: torch.Generator) -> list[torch.Tensor]:
    """n_layers weight matrices (S, n, n) of one scheme."""
    if scheme == "orthogonal":
        q, r = torch.linalg.qr(torch.randn(n_layers, n_seeds, n, n, generator=g, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]
        return list(q)
    gain = small if scheme == "small random" else 1.0
    return list(torch.randn(n_layers, n_seeds, n, n, generator=g, dtype=torch.float64) * (gain / math.sqrt(n)))


def _product(ws: list[torch.Tensor]) -> torch.Tensor:
    """W_L ⋯ W_1 for ws = [W_1, …, W_L], batched over seeds."""
    out = ws[0]
    for w in ws[1:]:
        out = w @ out
    return out


def deep_linear_step(ws: list[torch.Tensor], M: torch.Tensor, lr: float) -> torch.Tensor:
    """One gradient-descent step in place on ½‖M − W_L⋯W₁‖²_F for a batch of nets (each W (S, n, n));
    returns the loss before the step (S,)."""
    L = len(ws)
    below = [torch.eye(M.shape[-1], dtype=M.dtype).expand_as(ws[0])]  # below[l] = W_{l−1}⋯W_1 (l from 0)
    for w in ws[:-1]:
        below.append(w @ below[-1])
    err = M - ws[-1] @ below[-1]  # (S, n_out, n_in)
    above = torch.eye(ws[-1].shape[-2], dtype=M.dtype).expand(ws[-1].shape[0], -1, -1)  # W_L⋯W_{l+1}
    grads = [None] * L
    for l in range(L - 1, -1, -1):
        grads[l] = above.transpose(1, 2) @ err @ below[l].transpose(1, 2)  # −∂loss/∂W_l
        above = above @ ws[l]
    for w, gr in zip(ws, grads):
        w.add_(gr, alpha=lr)
    return 0.5 * err.square().sum(dim=(1, 2))


def run_depth_sweep(config: SaxeConfig = SaxeConfig()) -> list[dict]:
    """Steps to learn 99 % of ‖M‖²_F against depth, per initialisation scheme: median and
    quartiles over ``depth_seeds`` random initialisations."""
    n = config.depth_width
    task = whitened_task(config.singular_values, n, n, n, config.seed)
    M = (task.U * task.S) @ task.V.T  # (n, n)
    target = 0.01 * 0.5 * float(M.square().sum())
    rows = []
    for depth in config.depths:
        n_layers = depth + 1
        for j, scheme in enumerate(DEPTH_INITS):
            g = torch.Generator().manual_seed(config.seed * 1000 + depth * 10 + j)
            ws = _initial_layers(scheme, n_layers, n, config.depth_seeds, config.small_init, g)
            initial_map = _product(ws)
            reached = torch.full((config.depth_seeds,), -1, dtype=torch.int64)
            for step in range(config.depth_max_steps + 1):
                loss = deep_linear_step(ws, M, config.depth_lr / n_layers)
                reached = torch.where((reached < 0) & (loss <= target), step, reached)
                if bool((reached >= 0).all()):
                    break
            rows.append(_depth_row(depth, scheme, n_layers, config, reached, initial_map, M))
    return rows


def _depth_row(depth: int, scheme: str, n_layers: int, config: SaxeConfig, reached: torch.Tensor,
               initial_map: torch.Tensor, M: torch.Tensor) -> dict:
    q = quartiles(reached[reached >= 0])
    sv = torch.linalg.svdvals(initial_map)  # (S, n): the initial map's singular values
    return {
        "depth": depth, "init": scheme, "lr": config.depth_lr / n_layers, "n_seeds": config.depth_seeds,
        "steps_q25": q["q25"], "steps_median": q["median"], "steps_q75": q["q75"], "not_reached": int((reached < 0).sum()),
        "max_steps": config.depth_max_steps,
        "initial_map_sv_median": float(sv.median()), "initial_map_sv_min_median": float(sv[:, -1].median()),
        "initial_map_sv_max_median": float(sv[:, 0].median()),
    }
