"""Train S independent small MLPs at once: seeds are the last, contiguous dimension.

Network, per seed s (biases zero at init, weights glorot-uniform):

    h₀ = x,   h_l = σ(W_l h_{l−1} + b_l)  (l = 1..L−1),   ŷ = W_L h_{L−1} + b_L

with σ any registry activation, or maxout: h_l = max_k (W_{l,k} h_{l−1} + b_{l,k}).
Loss per seed: MSE mean((ŷ − y)²), or BCE on the logit ŷ. All parameters live in one flat
(P, S) tensor, seeds last: the first layer is a GEMM of the (B, n_in) inputs by (n_in, S)
weights, the others contract small dimensions over long rows of seeds (layers at least 16 wide
both ways, as in the deep nets of ``actlab signal``, through einsum's batched GEMMs instead). Backpropagation is
written out by hand with the same contractions (σ'(z) from autograd through the one
elementwise op, or maxout's tie-sharing rule); seeds do not interact, so column s of the
gradient is seed s's own. The eager step applies torch.optim.Adam(fused=True)'s kernel to the
whole tensor (or plain SGD); a seed that meets a stop rule is frozen (zero gradient, and for
Adam a zeroed first moment, so that its step is exactly 0). ``compile=True``
runs a pure-tensor step with Adam written out, fused by torch.compile (for GPUs).
``train_many`` trains several set-ups that differ only in the activation and stop rules as
blocks of one tensor: the same bits as separate runs (for blocks of at least 256 seeds, or a
multiple of 64: smaller ones can sit differently against the kernels' vector width, and a
few seeds may then differ in the last bit), one loop's overhead. The per-seed
oracle (``train_reference``) uses nn.Sequential and torch.optim.Adam itself.

From 256 seeds on, seeds that meet a stop rule leave the working set (every 20 steps, once a
quarter of it has stopped): later steps compute only the seeds still training. Each block of
seeds is then padded to a multiple of 64 columns (copies of its first seed, cut off at the
end), so that every kernel runs its vector code on every seed, with no scalar tail whose
rounding could differ: a seed's bits depend neither on its position, nor on the batch (of at
least 256), nor on that shedding (tested).

Initial weights come from a counter-based generator (splitmix64 of (seed, parameter index)),
so seed s gets the same weights in a batch of 10 or of 10⁶ seeds, alone in a loop, and
whatever the activation or the scale: comparisons between activations and between initial
weight ranges are paired. Four schemes: glorot-uniform with zero biases (the article's),
U(−r, r) for every weight and bias (Kolen & Pollack 1990's ranges), orthogonal (QR of a
Gaussian matrix, signs fixed by R's diagonal, as ``torch.nn.init.orthogonal_``) times a gain,
and Gaussian at a chosen (σ_w², σ_b²): weights N(0, σ_w²/fan_in), biases N(0, σ_b²), the
mean-field theory's convention (``actlab.signal``, ``actlab.init``).

``skip=True`` adds direct input→output connections, ŷ = W_L h_{L−1} + b_L + W_s x (the 2-1-1
XOR net of Sprinkhuizen-Kuyper & Boers 1996): their weights W_s (n_out, n_in) follow every
layer's in the flat parameters, with no bias of their own.

Denormals: gradient descent on XOR drives values into the subnormal range, which is very
slow on CPUs; training runs with flush-to-zero and restores the previous state after.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import activations
from .activations import MAXOUT, act_and_deriv
from ._train_state import COMPACT_MULTIPLE, _flush_denormal_active, _FusedAdam, _WorkingSet, flush_denormals  # noqa: F401

__all__ = [
    "TrainConfig",
    "TrainRun",
    "MAXOUT",
    "train",
    "train_many",
    "train_reference",
    "init_params",
    "init_weights",
    "n_params",
    "param_count",
    "SkipMLP",
    "INITS",
    "forward",
    "layer_sizes",
    "flush_denormals",
    "resolve_device",
    "check_memory",
    "Maxout",
    "to_module",
    "act_and_deriv",
]

INITS = ("glorot", "uniform", "orthogonal", "gaussian")  # the initial-weight schemes (see init_weights)


@dataclass(frozen=True)
class TrainConfig:
    hidden: tuple[int, ...] = (4,)  # hidden widths; (4,) is the article's 2-4-1 network
    activation: str = "linear"  # registry name, or "maxout"
    maxout_k: int = 2  # pieces per maxout unit
    loss: str = "mse"  # "mse" (the article's) or "bce" (on the output logit)
    optimizer: str = "adam"  # "adam" (the article's) or "sgd"
    lr: float = 0.01  # the article's Adam learning rate
    n_steps: int = 1000  # the article's maximum number of steps
    batch_size: int | None = None  # None: full batch (the article's)
    stop_loss: float | None = None  # a seed stops once its loss < stop_loss (seed: 1e-5, nonlinear)
    stop_delta: float | None = None  # a seed stops once |Δloss| < stop_delta (seed: 1e-10, linear)
    hit_loss: float = 1e-3  # record the first step at which the loss < hit_loss
    dtype: str = "float32"  # "float32" or "float64"
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    record_every: int = 1  # loss history every k steps (0: none)
    data_seed: int = 0  # minibatch order (shared by all seeds)
    init: str = "glorot"  # "glorot" (the article's: zero biases), "uniform" (U(±init_scale), biases too), "orthogonal" or "gaussian"
    init_scale: float = 1.0  # glorot: multiplies the bound; uniform: the range r; orthogonal: the gain
    sigma_w2: float = 1.0  # gaussian: weights N(0, sigma_w2/fan_in), the mean-field theory's σ_w² (actlab.signal)
    sigma_b2: float = 0.0  # gaussian: biases N(0, sigma_b2)
    skip: bool = False  # direct input→output connections (weights only), trained with the rest

    def __post_init__(self) -> None:
        hidden = (self.hidden,) if isinstance(self.hidden, numbers.Integral) else tuple(self.hidden)
        if not hidden or any(not isinstance(h, numbers.Integral) or isinstance(h, bool) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be one or more integer widths ≥ 1, got {self.hidden!r}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))  # numpy integers welcome
        if self.activation != MAXOUT:
            object.__setattr__(self, "activation", activations.resolve(self.activation))
        if self.maxout_k < 1:
            raise ValueError(f"maxout_k must be ≥ 1, got {self.maxout_k}")
        _choice("loss", self.loss, ("mse", "bce"))
        _choice("optimizer", self.optimizer, ("adam", "sgd"))
        _choice("dtype", self.dtype, ("float32", "float64"))
        if not (isinstance(self.n_steps, int) and self.n_steps >= 0):
            raise ValueError(f"n_steps must be an integer ≥ 0, got {self.n_steps!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1 or None (full batch), got {self.batch_size}")
        if self.record_every < 0:
            raise ValueError(f"record_every must be ≥ 0, got {self.record_every}")
        _choice("init", self.init, INITS)
        if not (isinstance(self.init_scale, numbers.Real) and math.isfinite(self.init_scale) and self.init_scale > 0):
            raise ValueError(f"init_scale must be a positive number, got {self.init_scale!r}")
        if not (isinstance(self.sigma_w2, numbers.Real) and math.isfinite(self.sigma_w2) and self.sigma_w2 > 0):
            raise ValueError(f"sigma_w2 must be a finite weight variance > 0, got {self.sigma_w2!r}")
        if not (isinstance(self.sigma_b2, numbers.Real) and math.isfinite(self.sigma_b2) and self.sigma_b2 >= 0):
            raise ValueError(f"sigma_b2 must be a finite bias variance ≥ 0, got {self.sigma_b2!r}")
        if not isinstance(self.skip, bool):
            raise ValueError(f"skip must be True or False, got {self.skip!r}")
        resolve_device(self.device)

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)


def _choice(name: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}, got {value!r}")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu" or str(device).startswith("cuda"):
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use 'cpu' or 'auto'")
        return torch.device(device)
    raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")


@dataclass
class TrainRun:
    """What ``train`` returns (tensors on the CPU; not JSON: experiments summarise it)."""

    config: TrainConfig
    seeds: torch.Tensor  # (S,) int64
    params: torch.Tensor  # (S, P) final parameters
    final_loss: torch.Tensor  # (S,) loss at the final parameters
    loss_history: torch.Tensor | None  # (T', S) loss every record_every steps (float32), step 0 first
    history_steps: torch.Tensor | None  # (T',) the steps of loss_history
    first_hit: torch.Tensor  # (S,) first step with loss < hit_loss, −1 if never
    steps_run: torch.Tensor  # (S,) updates applied before stopping
    diverged: torch.Tensor  # (S,) bool: loss became NaN or inf
    tracked: dict[int, torch.Tensor] = field(default_factory=dict)  # seed index -> (frames, P) params
    tracked_steps: torch.Tensor | None = None  # (frames,) steps of the tracked params
    seconds: float = 0.0

    @property
    def n_seeds(self) -> int:
        return self.params.shape[0]


# ---------------------------------------------------------------------------- parameters


def layer_sizes(config: TrainConfig, n_in: int, n_out: int = 1) -> list[tuple[int, int]]:
    """(rows, cols) of each weight matrix; a maxout layer has k·width rows."""
    k = config.maxout_k if config.activation == MAXOUT else 1
    sizes, width = [], n_in
    for h in config.hidden:
        sizes.append((k * h, width))
        width = h
    sizes.append((n_out, width))
    return sizes


def n_params(sizes: list[tuple[int, int]]) -> int:
    return sum(r * c + r for r, c in sizes)


_MASK64 = (1 << 64) - 1


def _i64(v: int) -> int:  # an unsigned 64-bit constant as the int64 with the same bits
    return v - (1 << 64) if v >= 1 << 63 else v


def _shr(z: torch.Tensor, k: int) -> torch.Tensor:  # logical right shift of int64
    return (z >> k) & ((1 << (64 - k)) - 1)


def _uniform01(seeds: torch.Tensor, n: int) -> torch.Tensor:
    """(S, n) float64 uniforms in [0, 1): splitmix64 of (seed, index). Counter-based, so any
    subset of seeds gets the same numbers in any batch."""
    idx = torch.arange(n, dtype=torch.int64)
    z = seeds.to(torch.int64)[:, None] * _i64(0xD1B54A32D192ED03) + idx[None, :] * _i64(0x9E3779B97F4A7C15)
    z = (z ^ _shr(z, 30)) * _i64(0xBF58476D1CE4E5B9)
    z = (z ^ _shr(z, 27)) * _i64(0x94D049BB133111EB)
    z = z ^ _shr(z, 31)
    return _shr(z, 11).to(torch.float64) * 2.0**-53


def param_count(config: TrainConfig, n_in: int, n_out: int = 1) -> int:
    """P: the layers' weights and biases, then the skip connections' weights (``skip``)."""
    return n_params(layer_sizes(config, n_in, n_out)) + (n_out * n_in if config.skip else 0)


def init_params(config: TrainConfig, seeds: torch.Tensor | Sequence[int], n_in: int, n_out: int = 1) -> torch.Tensor:
    """(S, P) initial parameters by ``config.init`` and ``config.init_scale`` (see init_weights)."""
    skip = (n_out, n_in) if config.skip else None
    return init_weights(layer_sizes(config, n_in, n_out), seeds, config.torch_dtype, init=config.init,
                        scale=config.init_scale, skip=skip, sigma_w2=config.sigma_w2, sigma_b2=config.sigma_b2)


def init_weights(sizes: list[tuple[int, int]], seeds: torch.Tensor | Sequence[int], dtype: torch.dtype = torch.float32,
                 *, init: str = "glorot", scale: float = 1.0, skip: tuple[int, int] | None = None,
                 sigma_w2: float = 1.0, sigma_b2: float = 0.0) -> torch.Tensor:
    """(S, P) initial parameters for explicit (rows, cols) layer sizes (the playground's
    networks may have no hidden layer): weights then biases of each layer, row-major, then the
    ``skip`` (rows, cols) weights if given.

    glorot      weights U(±scale·√(6/(fan_in+fan_out))), zero biases
    uniform     every weight and bias U(±scale)
    orthogonal  weights = scale · Q, Q from the QR of a Gaussian matrix (orthonormal rows or
                columns, whichever are fewer), zero biases
    gaussian    weights N(0, sigma_w2/cols), biases N(0, sigma_b2): the mean-field theory's
                convention (``actlab.signal``; He-normal is sigma_w2 = 2)
    """
    seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
    blocks = [(rows, cols, True) for rows, cols in sizes] + ([(*skip, False)] if skip else [])
    u = _uniform01(seeds, sum(r * c + (r if bias else 0) for r, c, bias in blocks))  # (S, P)
    out = torch.zeros_like(u)
    pos = 0
    for rows, cols, bias in blocks:
        n = rows * cols
        w = out[:, pos : pos + n]
        if init == "orthogonal":
            w.copy_(scale * _orthogonal(u[:, pos : pos + n], rows, cols).flatten(1))
        elif init == "gaussian":
            w.copy_(_normal(u[:, pos : pos + n]) * math.sqrt(sigma_w2 / cols))
        else:
            a = scale if init == "uniform" else math.sqrt(6.0 / (rows + cols)) * scale
            w.copy_((2 * u[:, pos : pos + n] - 1) * a)
        pos += n
        if bias and init == "uniform":
            out[:, pos : pos + rows] = (2 * u[:, pos : pos + rows] - 1) * scale
        elif bias and init == "gaussian":
            out[:, pos : pos + rows] = _normal(u[:, pos : pos + rows]) * math.sqrt(sigma_b2)
        pos += rows if bias else 0  # glorot and orthogonal biases stay zero
    return out.to(dtype)


def _normal(u: torch.Tensor) -> torch.Tensor:
    """Standard normals from uniforms in [0, 1), by the inverse CDF."""
    return torch.special.ndtri(u.clamp(2.0**-53, 1 - 2.0**-53))


def _orthogonal(u: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(S, rows, cols) orthogonal matrices from (S, rows·cols) uniforms: the Gaussian matrix
    they give by the inverse normal CDF, through QR with R's diagonal made positive."""
    g = _normal(u).view(-1, rows, cols)  # (S, rows, cols)
    flip = rows < cols
    q, r = torch.linalg.qr(g.transpose(1, 2) if flip else g)  # (S, max, min)
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2))[:, None, :]
    return q.transpose(1, 2) if flip else q


def _unpack(params_ps: torch.Tensor, sizes: list[tuple[int, int]]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Views (rows, cols, S) and (rows, 1, S) into the flat seeds-last (P, S) parameters."""
    pos = 0
    for rows, cols in sizes:
        w = params_ps[pos : pos + rows * cols].view(rows, cols, -1)
        pos += rows * cols
        yield w, params_ps[pos : pos + rows].view(rows, 1, -1)
        pos += rows


_BROADCAST_LIMIT = 1 << 26  # elements (256 MB of float32): above, contract with einsum, not broadcast-and-sum
_GEMM_SIDE = 16  # a weight matrix at least this wide both ways is contracted by einsum (bmm) at any size


def _contract(eq: str, a: torch.Tensor, b: torch.Tensor, sum_dim: int, shape_a: str, shape_b: str, out=None) -> torch.Tensor:
    """einsum ``eq`` over seeds-last tensors, whose broadcast shape is (rows, cols, B, S). Small
    layers broadcast and sum (one pass over long rows of seeds); wide layers (a GEMM's work per
    seed) and large products go through einsum (bmm, less memory). ``out``: write there."""
    full = [max(i, j) for i, j in zip(shape_a, shape_b)]  # torch.broadcast_shapes costs 70 µs
    if min(full[0], full[1]) >= _GEMM_SIDE or math.prod(full) > _BROADCAST_LIMIT:
        r = torch.einsum(eq, a, b)
        return r if out is None else out.copy_(r)
    return torch.sum(a.reshape(shape_a) * b.reshape(shape_b), sum_dim, out=out)


def _broadcast_first_layer(x: torch.Tensor) -> bool:
    """On a GPU the first layer's GEMM (K = n_in, tiny) is slow, and broadcast-and-sum fuses
    under torch.compile; on a CPU the GEMM wins."""
    return x.is_cuda


def _layer(w: torch.Tensor, b: torch.Tensor | None, h: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """z (rows, B, S) of one layer: w (rows, cols, S), b (rows, 1, S) or None, h (cols, B, S) or x (B, cols)."""
    rows, cols, S = w.shape
    if h is None and not _broadcast_first_layer(x):
        z = torch.matmul(x, w)  # (B, cols) @ (rows, cols, S): one GEMM per row block
    elif h is None:  # on a GPU a GEMM with K = cols is slow; broadcast-and-sum fuses under torch.compile
        B = x.shape[0]
        z = _contract("ib,ois->obs", x.T, w, 1, (1, cols, B, 1), (rows, cols, 1, S))
    else:
        B = h.shape[1]
        z = _contract("ois,ibs->obs", w, h, 1, (rows, cols, 1, S), (1, cols, B, S))
    return z if b is None else z + b


def _skip_weight(params_ps: torch.Tensor, sizes, n_in: int) -> torch.Tensor:
    """The skip connections' weights (n_out, n_in, S): the view after every layer's parameters."""
    n_out = sizes[-1][0]
    pos = n_params(sizes)
    return params_ps[pos : pos + n_out * n_in].view(n_out, n_in, -1)


def _forward_ps(config: TrainConfig, sizes, params_ps: torch.Tensor, x: torch.Tensor, keep: bool = False, blocks=None):
    """Outputs (B, S) from seeds-last parameters (P, S) on shared inputs x (B, n_in).

    Seeds are the last, contiguous dimension: the first layer is GEMMs of (B, n_in) by
    (n_in, S), the others contract small dimensions over long rows of seeds, so that 10⁴
    tiny networks cost a few dozen vectorised passes per step. With ``keep`` it also returns
    what the backward pass needs: per layer (w, input h or None, local derivative).
    ``blocks``: [(activation, slice of seeds)] when blocks of seeds use different activations.
    """
    if blocks is None:
        blocks = [(config.activation, slice(None))]
    acts = [(None if name == MAXOUT else activations.get(name).fn, sl) for name, sl in blocks]
    layers = list(_unpack(params_ps, sizes))
    h, tape = None, []
    for i, (w, b) in enumerate(layers):
        z = _layer(w, b, h, x)  # (rows, B, S)
        if i == len(layers) - 1:
            if config.skip:  # ŷ += W_s x
                z = z + _layer(_skip_weight(params_ps, sizes, x.shape[1]), None, None, x)
            return (z[0], tape + [(w, h, None)]) if keep else z[0]  # (B, S)
        deriv = None
        if acts[0][0] is None:  # maxout (never mixed with other activations)
            pieces = z.unflatten(0, (config.maxout_k, -1))  # (k, width, B, S)
            h_next = pieces.amax(dim=0)
            if keep:  # amax's own rule: the gradient is shared evenly between tied maxima
                mask = (pieces == h_next).to(z.dtype)
                deriv = mask / mask.sum(dim=0)
        elif len(acts) == 1:
            h_next, deriv = act_and_deriv(acts[0][0], z, keep)
        else:  # one activation per block of seeds, written into one tensor
            h_next = torch.empty_like(z)
            deriv = torch.empty_like(z) if keep else None
            for act, sl in acts:
                hb, db = act_and_deriv(act, z[..., sl].contiguous(), keep)  # contiguous: the kernels (and bits) of a run alone
                h_next[..., sl] = hb
                if keep:
                    deriv[..., sl] = db
        if keep:
            tape.append((w, h, deriv))
        h = h_next
    raise AssertionError("unreachable: an MLP has an output layer")


def _loss_and_grad(config: TrainConfig, sizes, params_ps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, blocks=None):
    """Loss per seed (S,) and its gradient (P, S): backpropagation by hand, layer by layer,
    with the same seeds-last contractions as the forward pass."""
    loss, g, tape = _loss_and_output_grad(config, sizes, params_ps, x, y, blocks)
    return loss, _backward(config, sizes, params_ps, x, g, tape)


def _loss_and_output_grad(config: TrainConfig, sizes, params_ps: torch.Tensor, x: torch.Tensor, y: torch.Tensor, blocks=None):
    """The forward pass: loss per seed (S,), its gradient with respect to the outputs (B, S),
    and the tape for ``_backward``."""
    out, tape = _forward_ps(config, sizes, params_ps, x, keep=True, blocks=blocks)  # (B, S)
    B = out.shape[0]
    if config.loss == "mse":
        diff = out - y[:, None]
        loss = diff.square().mean(dim=0)
        g = diff * (2.0 / B)  # dL/dout (B, S)
    else:
        loss = F.binary_cross_entropy_with_logits(out, y[:, None].expand_as(out), reduction="none").mean(dim=0)
        g = (torch.sigmoid(out) - y[:, None]) / B
    return loss, g, tape


def _backward(config: TrainConfig, sizes, params_ps: torch.Tensor, x: torch.Tensor, g: torch.Tensor, tape) -> torch.Tensor:
    """The gradient (P, S) from the outputs' gradient g (B, S); a seed whose g is zero gets zero."""
    B = g.shape[0]
    g_z = g[None]  # (1, B, S)
    grad = torch.empty_like(params_ps)  # (P, S): each layer's gradient is written into its view
    views = list(_unpack(grad, sizes))
    if config.skip:  # ∂L/∂W_s = gᵀ x, as for a first layer
        _input_weight_grad(x, g_z, _skip_weight(grad, sizes, x.shape[1]))
    for l in range(len(sizes) - 1, -1, -1):
        w, h, _ = tape[l]
        gw, gb = views[l]  # (rows, cols, S), (rows, 1, S)
        rows, cols, S = w.shape
        if h is None:
            _input_weight_grad(x, g_z, gw)
        else:
            _contract("obs,ibs->ois", g_z, h, 2, (rows, 1, B, S), (1, cols, B, S), out=gw)
        torch.sum(g_z, dim=1, keepdim=True, out=gb)
        if l:
            g_h = _contract("ois,obs->ibs", w, g_z, 0, (rows, cols, 1, S), (rows, 1, B, S))  # (cols, B, S)
            deriv = tape[l - 1][2]
            if config.activation == MAXOUT:
                g_z = (deriv * g_h[None]).flatten(0, 1)  # back to the k·width pieces
            else:
                g_z = g_h * deriv
    return grad


def _input_weight_grad(x: torch.Tensor, g_z: torch.Tensor, out: torch.Tensor) -> None:
    """The gradient (rows, cols, S) of weights applied to the inputs x (B, cols), written into
    ``out``, from the gradient g_z (rows, B, S) of what they produced."""
    if not _broadcast_first_layer(x):
        torch.matmul(x.T, g_z, out=out)  # (cols, B) @ (rows, B, S) -> (rows, cols, S)
    else:  # see _layer: no tiny-K GEMM on a GPU
        rows, cols, S = out.shape
        B = x.shape[0]
        _contract("obs,ib->ois", g_z, x.T, 2, (rows, 1, B, S), (1, cols, B, 1), out=out)


def _track(config: TrainConfig, loss, prev, active, first_hit, step, stops=None):
    """First step below ``hit_loss``, and which seeds are still active after this step's
    loss (a diverged seed, or one meeting a stop rule, stops for good). ``stops``: per-seed
    (stop_loss, stop_delta) tensors when blocks of seeds have different rules (−inf and 0:
    no rule)."""
    if first_hit is not None:  # None: derived from the loss history after training
        first_hit = torch.where((first_hit < 0) & (loss < config.hit_loss), step, first_hit)
    stop = ~torch.isfinite(loss)
    if stops is not None:
        stop = stop | (loss < stops[0]) | ((loss - prev).abs() < stops[1])
    else:
        if config.stop_loss is not None:
            stop = stop | (loss < config.stop_loss)
        if config.stop_delta is not None:
            stop = stop | ((loss - prev).abs() < config.stop_delta)
    return active & ~stop, first_hit


def _step(config: TrainConfig, sizes, x, y, params, m, v, active, first_hit, prev, step):
    """One training step of every seed as a pure function of tensors, for torch.compile (which
    fuses it into a few kernels on a GPU); ``step`` is a 0-d tensor. Returns the new state
    and this step's loss. Adam is torch.optim.Adam's formula written out; a stopped seed's
    parameters are frozen (torch.where: NaN · 0 would be NaN), its moments may run on.
    """
    loss, grad = _loss_and_grad(config, sizes, params, x, y)
    active, first_hit = _track(config, loss, prev, active, first_hit, step)
    if config.optimizer == "adam":
        beta1, beta2, eps = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults
        n = step.to(params.dtype) + 1  # in the parameters' precision: an int tensor would give float32
        m = torch.lerp(m, grad, 1 - beta1)
        v = torch.addcmul(v * beta2, grad, grad, value=1 - beta2)
        denom = v.sqrt() / (1 - beta2**n) ** 0.5 + eps
        params = params - torch.where(active, m, 0) / denom * (config.lr / (1 - beta1**n))
    else:
        params = torch.add(params, torch.where(active, grad, 0), alpha=-config.lr)
    return params, m, v, active, first_hit, loss


COMPACT_EVERY = 20  # steps between checks for stopped seeds to drop from the working set
SHED_MIN_SEEDS = 256  # below this a step costs about the same for any number of seeds: no padding, no shedding


def _eager_update(config: TrainConfig, opt, params: torch.Tensor, grad: torch.Tensor, active: torch.Tensor, masked: bool,
                  was_active: torch.Tensor | None = None) -> None:
    """One optimiser step in place: Adam with torch.optim.Adam(fused=True)'s kernel on the (P, S)
    parameters — one kernel, and torch's own arithmetic — or SGD; stopped seeds keep their
    parameters (``masked``: some seed can stop)."""
    if config.optimizer == "adam":
        if masked:  # a stopped seed has a zero gradient (the loop zeroes its outputs' gradient); its
            # first moment is zeroed when it stops, so that Adam's step for it is lr·0/(√v̂ + ε) = 0 exactly
            newly = ~active if was_active is None else was_active & ~active
            if bool(newly.any()):
                opt.exp_avg.masked_fill_(newly, 0.0)
        params.grad = grad
        opt.step()
    else:
        params.sub_(torch.where(active, grad, 0), alpha=config.lr)


def forward(config: TrainConfig, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Outputs (S, B) of every seed's network (params (S, P)) on the shared inputs x (B, n_in)."""
    x = torch.as_tensor(x, dtype=params.dtype, device=params.device)
    return _forward_ps(config, layer_sizes(config, x.shape[1]), params.T.contiguous(), x).T


def _loss(config: TrainConfig, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(S,) loss per seed; out (B, S), y (B,)."""
    if config.loss == "mse":
        return (out - y[:, None]).square().mean(dim=0)
    return F.binary_cross_entropy_with_logits(out, y[:, None].expand_as(out), reduction="none").mean(dim=0)


# ---------------------------------------------------------------------------- the trainer


def _batches(config: TrainConfig, n: int) -> Callable[[int], torch.Tensor | None]:
    """Index of the minibatch for each step (shared by all seeds); None for full batch."""
    if config.batch_size is None or config.batch_size >= n:
        return lambda step: None
    g = torch.Generator().manual_seed(config.data_seed)
    per_epoch = math.ceil(n / config.batch_size)
    cache: dict[int, torch.Tensor] = {}

    def at(step: int) -> torch.Tensor:
        epoch, j = divmod(step, per_epoch)
        if epoch not in cache:
            cache.clear()
            cache[epoch] = torch.randperm(n, generator=g)
        return cache[epoch][j * config.batch_size : (j + 1) * config.batch_size]

    return at


def _as_data(config: TrainConfig, X, y, device) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.as_tensor(X).to(device=device, dtype=config.torch_dtype)
    y = torch.as_tensor(y).to(device=device, dtype=config.torch_dtype).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"expected X of shape (n, d) and y of shape (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    return X, y


def _check_many(configs, seeds, track, track_every: int, compile: bool) -> tuple[list[TrainConfig], torch.Tensor]:
    """train_many's arguments checked: configurations that differ only where blocks may, the
    seeds as an int64 tensor."""
    configs = list(configs)
    if not configs:
        raise ValueError("train_many needs at least one configuration")
    config = configs[0]
    for c in configs[1:]:
        if replace(c, activation=config.activation, stop_loss=config.stop_loss, stop_delta=config.stop_delta,
                   init=config.init, init_scale=config.init_scale, sigma_w2=config.sigma_w2,
                   sigma_b2=config.sigma_b2) != config:
            raise ValueError("train_many's configurations may differ only in activation, stop_loss, stop_delta, "
                             "init, init_scale, sigma_w2 and sigma_b2")
    if len(configs) > 1 and any(c.activation == MAXOUT for c in configs):
        raise ValueError("maxout has k pieces per unit (more parameters): train it alone, not with other activations")
    if len(configs) > 1 and compile:
        raise ValueError("compile=True trains one configuration at a time")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"the number of seeds must be ≥ 1, got {seeds}")
        seeds = torch.arange(seeds)
    seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
    if seeds.numel() == 0:
        raise ValueError("at least one seed is needed, got none")
    if track_every < 1:
        raise ValueError(f"track_every must be ≥ 1, got {track_every}")
    for i in track:
        if not 0 <= i < seeds.numel():
            raise ValueError(f"track index {i} out of range for {seeds.numel()} seeds")
    return configs, seeds


def _block_stops(configs: Sequence[TrainConfig], width: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-seed stop rules (stop_loss, stop_delta) of blocks of ``width`` seeds: −inf and 0 never stop."""
    dtype = configs[0].torch_dtype
    return tuple(
        torch.cat([torch.full((width,), default if getattr(c, name) is None else getattr(c, name), dtype=dtype, device=device)
                   for c in configs])
        for name, default in (("stop_loss", -math.inf), ("stop_delta", 0.0))
    )


def _initial_block_params(configs: Sequence[TrainConfig], seeds: torch.Tensor, n_in: int, width: int) -> torch.Tensor:
    """(P, n_configs·width) seeds-last initial parameters, one block per configuration. A seed
    starts from the same uniform draws in every block (scaled by the block's init), so that
    comparisons between activations and initial ranges are paired; each block is padded to
    ``width`` columns with copies of its first seed."""
    made: dict[tuple, torch.Tensor] = {}
    for c in configs:
        key = (c.init, c.init_scale, c.sigma_w2, c.sigma_b2)
        if key not in made:
            p = init_params(c, seeds, n_in)  # (S0, P)
            made[key] = torch.cat([p, p[:1].expand(width - p.shape[0], -1)]).T  # (P, width)
    return torch.cat([made[c.init, c.init_scale, c.sigma_w2, c.sigma_b2] for c in configs], dim=1).contiguous()


def check_memory(config: TrainConfig, n_in: int, n_seeds: int, n_rows: int) -> None:
    """Refuse a run whose working set cannot fit this machine's memory, before allocating it:
    parameters, gradient, Adam moments and masks (~8 copies of (P, S)), and each layer's
    activations and derivatives for a batch (~6 of (rows, B, S))."""
    import os

    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: nothing to compare with
        return
    batch = min(config.batch_size or n_rows, n_rows)
    sizes = layer_sizes(config, n_in)
    per_seed = 8 * param_count(config, n_in) + 6 * batch * max(rows for rows, _ in sizes)
    need = n_seeds * per_seed * torch.finfo(config.torch_dtype).bits // 8
    if need > total:
        raise ValueError(
            f"{n_seeds:,} seeds of this network need about {need / 2**30:,.1f} GiB to train, and this machine has "
            f"{total / 2**30:,.1f} GiB: use fewer seeds (at most ~{max(1, total // max(need // n_seeds, 1)):,})"
        )


def train(
    config: TrainConfig,
    X,
    y,
    seeds: Sequence[int] | torch.Tensor | int,
    *,
    track: Sequence[int] = (),
    track_every: int = 5,
    progress: Callable[[int], None] | None = None,
    compile: bool = False,
) -> TrainRun:
    """Train one network per seed, all at once.

    Args:
        seeds: the seeds (or an int S: seeds 0..S−1).
        track: indices into ``seeds`` whose parameters are kept every ``track_every`` steps
            (for animations).
        progress: called with the number of steps done, every few steps.
        compile: fuse the step with ``torch.compile`` (worth it on a GPU with many seeds;
            the first step then takes seconds to compile).
    """
    return train_many([config], X, y, seeds, track=track, track_every=track_every, progress=progress, compile=compile)[0]


def train_many(
    configs: Sequence[TrainConfig],
    X,
    y,
    seeds: Sequence[int] | torch.Tensor | int,
    *,
    track: Sequence[int] = (),
    track_every: int = 5,
    progress: Callable[[int], None] | None = None,
    compile: bool = False,
) -> list[TrainRun]:
    """``train`` for several configurations that differ only in their activation and stop
    rules (the activation lab's set-ups), in one batched pass: the seeds of every configuration
    are blocks of one (P, n_configs·S) tensor, each block with its own activation — the same
    networks and arithmetic as separate runs, one loop's overhead instead of n_configs. Maxout
    (a different parameter count) trains alone. Returns one TrainRun per configuration."""
    configs, seeds = _check_many(configs, seeds, track, track_every, compile)
    config = configs[0]
    device = resolve_device(config.device)
    X, y = _as_data(config, X, y, device)
    S0, T, n_blocks = seeds.numel(), config.n_steps, len(configs)
    shed, S1 = _block_width(S0, compile)
    S = S1 * n_blocks
    check_memory(config, X.shape[1], S, X.shape[0])
    blocks = [(c.activation, slice(b * S1, (b + 1) * S1)) for b, c in enumerate(configs)] if n_blocks > 1 else None
    stops = _block_stops(configs, S1, device) if n_blocks > 1 else None
    sizes = layer_sizes(config, X.shape[1])
    params = _initial_block_params(configs, seeds, X.shape[1], S1).to(device)  # (P, S)
    masked = any(c.stop_loss is not None or c.stop_delta is not None for c in configs)
    # a float32 loss history of every step holds first_hit already: no per-step bookkeeping
    hit_from_history = not compile and config.record_every == 1 and config.torch_dtype == torch.float32
    m = v = None  # Adam moments of the compiled step (the eager optimiser keeps its own)
    active = torch.ones(S, dtype=torch.bool, device=device)
    first_hit = torch.full((S,), -1, dtype=torch.int64, device=device)
    steps_run = torch.zeros(S, dtype=torch.int64, device=device)
    prev = torch.full((S,), math.inf, dtype=config.torch_dtype, device=device)
    hist, hist_steps = [], []
    tracked_idx = [b * S1 + i for b in range(n_blocks) for i in track]
    tracked: dict[int, list[torch.Tensor]] = {i: [] for i in tracked_idx}
    tracked_steps: list[int] = []
    batch_at = _batches(config, X.shape[0])
    if compile:
        m, v = torch.zeros_like(params), torch.zeros_like(params)
        step_fn = torch.compile(functools.partial(_step, config, sizes), dynamic=False)
        step_tensors = torch.arange(T + 1, device=device)  # made once: a host-to-device copy per step would sync
    elif config.optimizer == "adam":
        opt = _FusedAdam(params, lr=config.lr)
    # Stopped seeds leave the working set: every COMPACT_EVERY steps, once a quarter of it has
    # stopped, the active columns are gathered into smaller tensors (parameters, Adam moments,
    # stop rules). A stopped seed's parameters are frozen, so its loss from then on is the loss
    # it stopped with: rows of the history are that frozen loss with the working set's scattered in.
    work = _WorkingSet(S, params, blocks, stops, shed) if not compile else None
    t0 = time.perf_counter()
    with flush_denormals(), torch.no_grad():
        for step in range(T + 1):
            if tracked_idx and step % track_every == 0:
                _keep_tracked(tracked, tracked_steps, step, params, work)
            idx = batch_at(step)
            xb, yb = (X, y) if idx is None else (X[idx], y[idx])
            if step < T and compile:
                params, m, v, active, first_hit, loss = step_fn(
                    xb, yb, params, m, v, active, first_hit, prev, step_tensors[step]  # a tensor: no recompile per step
                )
                steps_run += active  # counts the updates each seed received
                prev = loss
            elif step < T:
                if params.shape[1]:
                    active, loss = _eager_step(config, sizes, params, xb, yb, work, active, prev, first_hit, steps_run,
                                               step, opt if config.optimizer == "adam" else None, masked, hit_from_history)
                    prev = loss
                else:  # every seed has stopped
                    loss = prev
            else:  # the final loss, at the final parameters
                loss = _loss(config, _forward_ps(config, sizes, params, xb, blocks=work.blocks if work else blocks), yb) \
                    if params.shape[1] else prev
                fh = work.gather(first_hit) if work else first_hit
                fh = torch.where((fh < 0) & (loss < config.hit_loss), step, fh)
                work.scatter(first_hit, fh) if work else None
                first_hit = first_hit if work else fh
            full_loss = work.full(loss) if work else loss
            if config.record_every and step % config.record_every == 0:
                hist.append(full_loss.to(torch.float32, copy=True))
                hist_steps.append(step)
            if work is not None and step < T and step % COMPACT_EVERY == COMPACT_EVERY - 1:
                params, active, prev = work.compact(params, active, loss, opt if config.optimizer == "adam" else None)
            if progress is not None and (step + 1) % 50 == 0:
                progress(step + 1)
        if work is not None:
            params = work.finish(params)
            loss = full_loss
    if progress is not None:
        progress(T)
    seconds = time.perf_counter() - t0
    history = torch.stack(hist).cpu() if hist else None
    if hit_from_history:
        first_hit = _first_below(history, config.hit_loss)
    params, final = params.T.contiguous().cpu(), loss.cpu()
    return [_block_run(c, b * S1, seeds, params, final, history, hist_steps, first_hit, steps_run,
                       {i: tracked[b * S1 + i] for i in track}, tracked_steps, seconds / n_blocks)
            for b, c in enumerate(configs)]


def _block_width(n_seeds: int, compile: bool) -> tuple[bool, int]:
    """(shed, width): from SHED_MIN_SEEDS seeds on, blocks are padded to a multiple of
    COMPACT_MULTIPLE columns and stopped seeds are shed (why: the module docstring); fewer seeds
    cost little per step and are left as they are."""
    shed = not compile and n_seeds >= SHED_MIN_SEEDS
    return shed, (-(-n_seeds // COMPACT_MULTIPLE) * COMPACT_MULTIPLE if shed else n_seeds)


def _keep_tracked(tracked: dict, tracked_steps: list, step: int, params, work) -> None:
    """The tracked seeds' parameters at this step (wherever the working set keeps them)."""
    for i in tracked:
        tracked[i].append((work.column(i, params) if work else params[:, i]).clone())
    tracked_steps.append(step)


def _first_below(history: torch.Tensor, level: float) -> torch.Tensor:
    """(S,) the first row (step) of the (T + 1, S) float32 loss history below ``level``, −1 if
    none: the exact losses the per-step bookkeeping would have compared."""
    below = history < level
    return torch.where(below.any(dim=0), below.to(torch.int8).argmax(dim=0), -1)


def _eager_step(config: TrainConfig, sizes, params, xb, yb, work: _WorkingSet, active, prev, first_hit, steps_run,
                step: int, opt, masked: bool, hit_from_history: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One eager step of the working set: the loss, the stop rules (first_hit written unless
    read off the history later), the gradient with stopped seeds' zeroed, the update in place,
    each seed's update counted. Returns the seeds still active and this step's loss."""
    loss, g, tape = _loss_and_output_grad(config, sizes, params, xb, yb, work.blocks)  # (W,), (B, W)
    was_active = active
    fh = None if hit_from_history else work.gather(first_hit)
    active, fh = _track(config, loss, prev, active, fh, step, work.stops)
    if not hit_from_history:
        work.scatter(first_hit, fh)
    if masked:  # a stopped seed gets a zero gradient: its outputs' gradient is zeroed, a (B, W) fill
        # rather than one over all P parameters (where, not a product: a diverged seed's NaN stays out)
        g = torch.where(active, g, 0)
    grad = _backward(config, sizes, params, xb, g, tape)
    _eager_update(config, opt, params, grad, active, masked, was_active)
    work.add(steps_run, active)
    return active, loss


def _block_run(config: TrainConfig, start: int, seeds, params, final, history, hist_steps, first_hit, steps_run,
               tracked: dict, tracked_steps: list, seconds: float) -> TrainRun:
    """The TrainRun of the block of seeds that starts at column ``start`` (its padding cut off);
    ``seconds``: the pass's time, shared evenly between the blocks."""
    sl = slice(start, start + seeds.numel())
    return TrainRun(
        config=config,
        seeds=seeds,
        params=params[sl].clone(),
        final_loss=final[sl].clone(),
        loss_history=None if history is None else history[:, sl].contiguous(),
        history_steps=torch.tensor(hist_steps) if hist_steps else None,
        first_hit=first_hit[sl].cpu(),
        steps_run=steps_run[sl].cpu(),
        diverged=(~torch.isfinite(final[sl])),
        tracked={i: torch.stack(v).cpu() for i, v in tracked.items()},
        tracked_steps=torch.tensor(tracked_steps) if tracked_steps else None,
        seconds=seconds,
    )


# ---------------------------------------------------------------------------- the oracle


class Maxout(nn.Module):
    """max over k affine pieces per unit: the last dimension is k blocks of ``width`` pieces,
    unit i the max of pieces i, width + i, …"""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.unflatten(-1, (self.k, -1)).amax(dim=-2)


class SkipMLP(nn.Module):
    """An MLP with direct input→output connections: body(x) + skip(x)."""

    def __init__(self, body: nn.Sequential, skip: nn.Linear):
        super().__init__()
        self.body, self.skip = body, skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


def to_module(config: TrainConfig, params_row: torch.Tensor, n_in: int) -> nn.Module:
    """Seed s's network as a plain nn.Sequential (for the oracle, collapse and audit); with
    ``skip``, a SkipMLP around it."""
    from .nets import Act

    sizes = layer_sizes(config, n_in)
    flat = params_row.detach()[:, None]  # (P, 1)
    layers: list[nn.Module] = []
    for i, (w, b) in enumerate(_unpack(flat, sizes)):
        lin = nn.Linear(w.shape[1], w.shape[0], dtype=params_row.dtype)
        with torch.no_grad():
            lin.weight.copy_(w[..., 0])
            lin.bias.copy_(b[:, 0, 0])
        layers.append(lin)
        if i < len(sizes) - 1:
            layers.append(Maxout(config.maxout_k) if config.activation == MAXOUT else Act(config.activation))
    body = nn.Sequential(*layers)
    if not config.skip:
        return body
    skip = nn.Linear(n_in, sizes[-1][0], bias=False, dtype=params_row.dtype)
    with torch.no_grad():
        skip.weight.copy_(_skip_weight(flat, sizes, n_in)[..., 0])
    return SkipMLP(body, skip)


def train_reference(config: TrainConfig, X, y, seed: int, initial: torch.Tensor | None = None) -> tuple[nn.Module, list[float]]:
    """One seed trained the plain way (nn.Sequential + torch.optim), the oracle for ``train``.

    Same initial weights (or ``initial``, flat in ``init_params``' order), same stopping rules;
    returns the trained module and its losses.
    """
    device = resolve_device(config.device)
    X, y = _as_data(config, X, y, device)
    p0 = init_params(config, [seed], X.shape[1])[0] if initial is None else initial
    model = to_module(config, p0, X.shape[1]).to(device)
    opt = (
        torch.optim.Adam(model.parameters(), lr=config.lr)
        if config.optimizer == "adam"
        else torch.optim.SGD(model.parameters(), lr=config.lr)
    )
    batch_at = _batches(config, X.shape[0])
    losses, prev = [], math.inf
    with flush_denormals():
        for step in range(config.n_steps + 1):
            idx = batch_at(step)
            xb, yb = (X, y) if idx is None else (X[idx], y[idx])
            out = model(xb)[:, 0]
            loss = F.mse_loss(out, yb) if config.loss == "mse" else F.binary_cross_entropy_with_logits(out, yb)
            losses.append(loss.item())
            stop = not math.isfinite(losses[-1])
            stop |= config.stop_loss is not None and losses[-1] < config.stop_loss
            stop |= config.stop_delta is not None and abs(losses[-1] - prev) < config.stop_delta
            prev = losses[-1]
            if stop or step == config.n_steps:
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model, losses

