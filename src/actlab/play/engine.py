"""The playground's trainer: S networks (one per seed) advanced a few epochs at a time.

TensorFlow Playground's lesson with actlab's arithmetic, all seeds in one batched pass:
seeds are the first dimension of every weight (S, rows, cols), each minibatch (shared by all
seeds, reshuffled each epoch from the data seed) goes through ``matmul``/``bmm`` layer by layer,
backpropagation is written out with the same contractions, and one fused Adam kernel (or a
foreach SGD step) updates every tensor. Loss ½(ŷ−y)² as TensorFlow Playground (so that its
learning rates mean the same) or cross-entropy on the output logit; L1/L2 on the weights as
TensorFlow Playground applies them (L1 zeroes a weight that crosses 0). The output unit is
linear (TensorFlow Playground uses tanh for classification): an all-linear network is then one
affine map, which the page shows. Initial weights are actlab's counter-based glorot draws, so
seed s starts as in ``actlab xor`` or ``actlab.train``.

On the CPU, for the activations it covers, the fused C step (``_kernel.py``, ``kernel.c``) trains
instead, with the same minibatches and arithmetic in its own layout; ``W`` and ``b`` are then
read back from it when something asks for them, and the selected seed's maps read that seed alone.

Snapshots (``stats``, ``frame``) evaluate every seed on the whole training and test sets and on
coarse grids; this module computes, the server sends, the page draws.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import activations
from ..train import act_and_deriv, Maxout, flush_denormals, init_weights
from . import _kernel
from .data import FEATURE_FNS, PlayData, features
from .mean_field import layer_sigmas, resolve_init
from .settings import Settings

__all__ = ["Engine", "GRID", "THUMB", "quantize"]

GRID, THUMB = 100, 20  # output heatmap and neuron thumbnails (cells per side)
MIN_GRID = 32  # the output heatmap of a large network, at the least
FRAME_MACS = 30e6  # multiply-adds a frame's output heatmap may cost (a few ms): wide nets get a coarser grid
MAXOUT_K = 2
SIGNAL_POINTS = 256  # training points the Signal view's statistics use, at most
SIGNAL_BINS = 24  # histogram bins per layer in the Signal view


def _quartiles(v: torch.Tensor) -> list[float | None]:
    """[q25, median, q75] of a 1-D tensor (Nones when empty)."""
    if not v.numel():
        return [None, None, None]
    return [float(x) for x in torch.quantile(v.double(), torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))]


def quantize(v: torch.Tensor) -> np.ndarray:
    """Values in [−1, 1] (clamped; NaN → 0) as uint8 0..255, the page's colour index."""
    v = torch.nan_to_num(v.float(), nan=0.0).clamp(-1, 1)
    return ((v + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def _deriv_fn(name: str):
    """σ and σ' (None for the identity: nothing to multiply by); actlab.train's rules."""
    if name == "linear":
        return lambda z: (z, None)
    fn = activations.get(name).fn
    return lambda z: act_and_deriv(fn, z, True)


class Engine:
    """S networks of ``settings`` on ``data``; ``activation`` overrides the settings' (compare)."""

    def __init__(self, settings: Settings, data: PlayData, *, activation: str | None = None, device: str | torch.device = "cpu"):
        self.settings, self.data = settings, data
        self.activation = activation or settings.activation
        self.device = torch.device(device)
        self.dtype = torch.float32
        self.k = MAXOUT_K if self.activation == "maxout" else 1
        self.n_in = len(settings.features)
        widths = [self.n_in, *settings.networkShape]
        self.sizes = [(self.k * widths[i + 1], widths[i]) for i in range(len(widths) - 1)] + [(1, widths[-1])]
        self.seeds = torch.arange(settings.seeds)
        # actlab's initial weights (counter-based draws), glorot or at the resolved (σ_w², σ_b²)
        self.init, self.sigma_w2, self.sigma_b2, self.init_note = resolve_init(settings, self.activation)
        flat = init_weights(self.sizes, self.seeds, self.dtype, init=self.init, sigma_w2=self.sigma_w2, sigma_b2=self.sigma_b2)
        if settings.initZero:  # TensorFlow Playground's initZero: every seed the same, and no unit unlike another
            flat.zero_()
        lib = _kernel.load() if _kernel.covers(self.activation, self.device) else None
        # the fused C step keeps the parameters in its own layout; W and b are then a copy, read back when asked for
        self.fused = _kernel.FusedStep(lib, flat, self.sizes, self.activation, settings, settings.batchSize) if lib else None
        self._stale = False
        W, b = self._split(flat.to(self.device))
        self._W, self._b = [w.contiguous() for w in W], [v.contiguous() for v in b]  # the torch step's, in place
        if self.fused is None:  # the torch step's gradients and Adam state (the kernel keeps its own)
            self._torch_step_state(settings)
        self.act = None if self.activation == "maxout" else _deriv_fn(self.activation)
        self.act_fn = None if self.activation == "maxout" else activations.get(self.activation).fn
        Xtr, ytr, Xte, yte = data.split()
        as_t = lambda a: torch.as_tensor(a, dtype=self.dtype, device=self.device)  # noqa: E731
        self.X_train, self.y_train = as_t(features(Xtr, settings.features)), as_t(ytr)
        self.X_test, self.y_test = as_t(features(Xte, settings.features)), as_t(yte)
        if data.classes is not None:  # the loss's targets: cross-entropy wants 0/1
            lo, hi = data.classes
            self.t_train = (self.y_train - lo) / (hi - lo) if settings.loss == "bce" else self.y_train
        else:
            self.t_train = self.y_train
        self.gen = torch.Generator().manual_seed(settings.data_seed)
        self.epoch = 0
        self._perm, self._pos = None, 0  # the current epoch's shuffled training set, and the next row
        self._perms: list = []  # the fused kernel's: epochs' orders drawn ahead for a call that runs into them
        self.step_s = 1e-4  # time per minibatch step, a running estimate (sizes the fused calls; the server's frame rate)
        # the output heatmap's grid: GRID² cells, fewer for a wide network so that a frame stays cheap
        self.macs_per_point = sum(r * c for r, c in self.sizes)  # one seed's forward pass of one point
        self.grid = int(min(GRID, max(MIN_GRID, math.sqrt(FRAME_MACS / self.macs_per_point))))
        self.grid_in = {g: as_t(features(self._grid(g), settings.features)) for g in (self.grid, THUMB)}

    def _split(self, flat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(S, P) parameters → per layer W (S, rows, cols) and b (S, rows), views of ``flat``."""
        return _kernel.split_layers(flat, self.sizes)

    @property
    def W(self) -> list[torch.Tensor]:
        """Per layer, every seed's weights (S, rows, cols)."""
        self._sync()
        return self._W

    @property
    def b(self) -> list[torch.Tensor]:
        """Per layer, every seed's biases (S, rows)."""
        self._sync()
        return self._b

    @property
    def params(self) -> list[torch.Tensor]:
        return [t for pair in zip(self.W, self.b) for t in pair]

    def _sync(self) -> None:
        """After the fused step has trained: W and b read back from its buffers (fresh tensors:
        ones handed out before stay as they were)."""
        if self._stale:
            self._W, self._b = self._split(self.fused.read())
            self._stale = False

    def _layers(self, sl: slice) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per layer W[sl] and b[sl]; a few seeds' (the selected one's maps, 30 times a second)
        read from the fused step's buffers alone, not every seed's."""
        if self._stale and sl != slice(None):
            return self._split(self.fused.read(sl))
        return [w[sl] for w in self.W], [v[sl] for v in self.b]

    def _torch_step_state(self, settings: Settings) -> None:
        self.grads = [torch.zeros_like(t) for t in self.params]
        self.gW, self.gb = self.grads[0::2], self.grads[1::2]
        if settings.optimizer == "adam":
            self.m = [torch.zeros_like(t) for t in self.params]
            self.v = [torch.zeros_like(t) for t in self.params]
            self.steps = [torch.zeros((), dtype=torch.float32, device=self.device) for _ in self.params]

    # ------------------------------------------------------------------ the model

    @property
    def fraction(self) -> float:
        """How far into the current epoch the run is (0 ≤ fraction < 1)."""
        N = self.X_train.shape[0]
        return 0.0 if self._perm is None or not N or self._pos >= N else self._pos / N

    @property
    def n_params(self) -> int:
        return sum(t[0].numel() for t in self.params)

    def _grid(self, g: int) -> np.ndarray:
        """(g², 2) cell centres over the data's square, row 0 at the top (largest x₂)."""
        lo, hi = self.data.domain
        c = lo + (np.arange(g) + 0.5) * (hi - lo) / g
        xx, yy = np.meshgrid(c, c[::-1])
        return np.stack([xx.ravel(), yy.ravel()], 1)

    def _hidden(self, z: torch.Tensor, keep: bool):
        if self.act is None:  # maxout: the max of k pieces; the gradient shared between ties (amax's rule)
            pieces = z.unflatten(-1, (self.k, -1))
            h = pieces.amax(dim=-2)
            if not keep:
                return h, None
            mask = (pieces == h.unsqueeze(-2)).to(z.dtype)
            return h, mask / mask.sum(dim=-2, keepdim=True)
        if not keep:
            return self.act_fn(z), None
        return self.act(z)

    def forward(self, x: torch.Tensor, seeds: slice | None = None, keep: bool = False):
        """(S, B) outputs on shared inputs x (B, n_in); ``keep``: also the tape for backward,
        ``seeds``: a slice of seeds (the selected one's heatmaps)."""
        sl = seeds or slice(None)
        W, b = self._layers(sl)
        h, tape = x, []
        for l, (w, bias) in enumerate(zip(W, b)):
            if l == 0:  # inputs shared by all seeds: one GEMM (B, n_in) @ (n_in, S·rows), not S small ones
                S, rows, cols = w.shape
                z = torch.mm(h, w.reshape(S * rows, cols).T).view(-1, S, rows).transpose(0, 1) + bias[:, None, :]
            else:
                z = torch.baddbmm(bias[:, None, :], h, w.transpose(1, 2))  # (S, B, rows)
            if l == len(W) - 1:
                return z[..., 0], tape
            a, d = self._hidden(z, keep)
            tape.append((h, a, d))
            h = a
        raise AssertionError("unreachable")

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        out, tape = self.forward(x, keep=True)  # (S, B)
        B = x.shape[0]
        g = (out - y) / B if self.settings.loss == "mse" else (torch.sigmoid(out) - y) / B  # d loss / d out
        g = g.unsqueeze(-1)  # (S, B, 1)
        for l in range(len(self.W) - 1, -1, -1):
            h_in = tape[l - 1][1] if l else x
            if l:
                torch.bmm(g.transpose(1, 2), h_in, out=self.gW[l])
            else:  # one GEMM: (S·rows, B) @ (B, n_in)
                S, rows, cols = self.gW[0].shape
                torch.mm(g.permute(0, 2, 1).reshape(S * rows, -1), h_in, out=self.gW[0].view(S * rows, cols))
            torch.sum(g, dim=1, out=self.gb[l])
            if l:
                g_a = torch.bmm(g, self.W[l])  # (S, B, cols)
                d = tape[l - 1][2]
                if d is None:  # linear
                    g = g_a
                elif self.act is None:  # maxout: back to the k pieces
                    g = (d * g_a.unsqueeze(-2)).flatten(-2)
                else:
                    g = g_a * d
        self._update()

    def _update(self) -> None:
        s = self.settings
        rate = s.regularizationRate if s.regularization != "none" else 0.0
        if rate:
            reg = self.W if s.regularization == "L2" else torch._foreach_sign(self.W)
            torch._foreach_add_(self.gW, reg, alpha=rate)
            before = torch._foreach_sign(self.W) if s.regularization == "L1" else None
        if s.optimizer == "adam":  # torch.optim.Adam(fused=True)'s kernel, without torch.optim (no torch._dynamo import)
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(self.params, self.grads, self.m, self.v, [], self.steps, lr=s.learningRate,
                               beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
        else:
            torch._foreach_add_(self.params, self.grads, alpha=-s.learningRate)
        if rate and before is not None:  # TensorFlow Playground's L1: a weight that crosses 0 stops there
            for w, sb in zip(self.W, before):
                w.masked_fill_(w.sign() * sb < 0, 0.0)

    def train_epochs(self, n: int = 1) -> None:
        """Finish the current epoch and train ``n − 1`` more (each a fresh shuffle of the
        training set in minibatches of batchSize, shared by all seeds)."""
        target = self.epoch + n
        while self.epoch < target and self.X_train.shape[0]:
            self.train_for(math.inf, until_epoch=target)

    @property
    def position(self) -> float:
        """Epochs trained, the current one's fraction included."""
        return self.epoch + self.fraction

    def train_for(self, budget_s: float, until_epoch: int | None = None, until: float | None = None) -> int:
        """Minibatch steps for about ``budget_s`` seconds (at least one step), stopping early at
        the end of epoch ``until_epoch``, or once ``position`` reaches ``until``; a run may pause
        mid-epoch. Returns the steps taken."""
        N = self.X_train.shape[0]
        if N == 0:
            return 0
        if until is not None and self.position >= until:
            return 0
        if self.fused is not None:
            return self._train_fused(budget_s, until_epoch, until)
        B = min(self.settings.batchSize, N)
        t0, steps = time.perf_counter(), 0
        with flush_denormals(), torch.no_grad():
            while True:
                t1 = time.perf_counter()
                if self._pos >= N or self._perm is None:
                    perm = torch.randperm(N, generator=self.gen).to(self.device)
                    self._perm, self._pos = (self.X_train[perm], self.t_train[perm]), 0
                Xp, tp = self._perm
                self._step(Xp[self._pos : self._pos + B], tp[self._pos : self._pos + B])
                self.step_s = 0.8 * self.step_s + 0.2 * (time.perf_counter() - t1)
                self._pos += B
                steps += 1
                if self._pos >= N:
                    self.epoch += 1
                    if until_epoch is not None and self.epoch >= until_epoch:
                        break
                if time.perf_counter() - t0 >= budget_s or (until is not None and self.position >= until):
                    break
        return steps

    def _train_fused(self, budget_s: float, until_epoch: int | None, until: float | None) -> int:
        """``train_for`` by the fused kernel: the same shuffles and minibatches, many steps a call
        (as many as fit the budget at the last calls' speed), across epochs' ends: a call's cost
        includes fetching a wide net's parameters and moments into the caches (8 × 64, 64 seeds:
        ~1 ms), so a call of 12 steps took 8 % longer a step than one of 25."""
        N, B = self.X_train.shape[0], min(self.settings.batchSize, self.X_train.shape[0])
        per = -(-N // B)  # steps an epoch
        t0, steps = time.perf_counter(), 0
        with flush_denormals():
            while True:
                if self._pos >= N or self._perm is None:
                    self._perm, self._pos = self._next_perm(), 0
                left = -(-(N - self._pos) // B)  # steps to the epoch's end
                n = self._steps_to(until, N, B) if until is not None else math.inf
                if until_epoch is not None:
                    n = min(n, left + (until_epoch - self.epoch - 1) * per)
                if not math.isinf(budget_s):
                    n = min(n, int((budget_s - (time.perf_counter() - t0)) / self.step_s))
                n = max(1, n if not math.isinf(n) else left)
                epochs = 1 + -(-max(0, n - left) // per)  # this one and the next ones the call reaches
                while len(self._perms) < epochs - 1:
                    self._perms.append(self._shuffle())
                parts = [self._perm] + self._perms[: epochs - 1]
                X = np.concatenate([p[0] for p in parts]) if epochs > 1 else parts[0][0]
                t = np.concatenate([p[1] for p in parts]) if epochs > 1 else parts[0][1]
                t1 = time.perf_counter()
                done = self.fused.run(X, t, N, self._pos, n)
                self._stale = True
                self.step_s = 0.8 * self.step_s + 0.2 * (time.perf_counter() - t1) / max(done, 1)
                steps += done
                self._advance(done, left, N, B, per)
                if until_epoch is not None and self.epoch >= until_epoch:
                    break
                # a budget three-quarters spent is spent: the rest would be a call of a step or two
                if time.perf_counter() - t0 >= 0.75 * budget_s or (until is not None and self.position >= until):
                    break
        return steps

    def _shuffle(self) -> tuple[np.ndarray, np.ndarray]:
        """The next epoch's shuffled training rows and targets (numpy, C-contiguous)."""
        perm = torch.randperm(self.X_train.shape[0], generator=self.gen)
        return self.X_train[perm].contiguous().numpy(), self.t_train[perm].contiguous().numpy()

    def _next_perm(self):
        """The next epoch's order: one drawn ahead for a call that ran into it, else a new one."""
        return self._perms.pop(0) if self._perms else self._shuffle()

    def _steps_to(self, until: float, N: int, B: int) -> int:
        """Steps from here until ``position`` ≥ ``until`` (at least one)."""
        per = -(-N // B)
        e, f = int(until), until - int(until)
        need = lambda rows: math.ceil(rows / B - 1e-9)  # noqa: E731  (float noise must not add a step)
        if e <= self.epoch:
            return max(1, need(f * N - self._pos) if e == self.epoch else 1)
        return -(-(N - self._pos) // B) + (e - self.epoch - 1) * per + need(f * N)

    def _advance(self, done: int, left: int, N: int, B: int, per: int) -> None:
        """Moves (epoch, row) on by ``done`` steps of a call that began ``left`` steps before
        its first epoch's end."""
        if done < left:
            self._pos += done * B
            return
        done -= left
        self.epoch += 1
        self._pos = N
        while done > 0:  # the call ran on into the next epochs
            take = min(done, per)
            self._perm, self._pos = self._perms.pop(0), min(N, take * B)
            done -= take
            if self._pos >= N:
                self.epoch += 1

    # ------------------------------------------------------------------ measurements

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(S,) mean loss: ½(ŷ−y)² (TensorFlow Playground's), or cross-entropy with 0/1 targets."""
        if y.numel() == 0:
            return torch.full((out.shape[0],), math.nan, device=out.device)
        if self.settings.loss == "mse" or self.data.classes is None:
            return 0.5 * (out - y).square().mean(dim=1)
        lo, hi = self.data.classes
        return torch.nn.functional.binary_cross_entropy_with_logits(out, ((y - lo) / (hi - lo)).expand_as(out), reduction="none").mean(dim=1)

    def _threshold(self) -> float:
        """The output value between the classes: 0 for a logit, the labels' midpoint for ½(ŷ−y)²."""
        return 0.0 if self.settings.loss == "bce" else self.data.threshold

    def solved(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(S,) bool. Classification: training accuracy ≥ 0.9; the 4-point XOR: every output
        within 0.4 of its label (as ``actlab xor``); regression: R² ≥ 0.9."""
        if y.numel() == 0:
            return torch.zeros(out.shape[0], dtype=torch.bool, device=out.device)
        if self.data.name == "xor4":
            pred = torch.sigmoid(out) if self.settings.loss == "bce" else out
            return ((pred - y).abs() < 0.4).all(dim=1)
        if self.data.classes is None:
            var = (y - y.mean()).square().mean().clamp_min(1e-12)
            return 1 - (out - y).square().mean(dim=1) / var >= 0.9
        pos = y > self.data.threshold
        return ((out > self._threshold()) == pos).to(torch.float32).mean(dim=1) >= 0.9

    def _outputs(self, x: torch.Tensor, seeds: slice = slice(None)) -> torch.Tensor:
        """(S, B) outputs on shared inputs x, as ``forward``: by the fused kernel's own forward pass
        for a wide net (its layout, ~3× torch's batched one), else by torch."""
        fast = self.fused.predict(x.numpy(), seeds) if self.fused is not None else None
        return torch.from_numpy(fast) if fast is not None else self.forward(x, seeds)[0]

    def stats(self, strip: int = 0) -> dict[str, Any]:
        """Every seed's train/test loss, success and divergence (tensors on the CPU); with
        ``strip`` = g > 0 also every seed's output on a g×g grid (uint8 colours, (S, g²)) — the
        strip of small boundary maps — from the same forward pass."""
        parts = [self.X_train, self.X_test]
        if strip:
            key = ("strip", strip)
            if key not in self.grid_in:
                self.grid_in[key] = torch.as_tensor(features(self._grid(strip), self.settings.features), dtype=self.dtype, device=self.device)
            parts.append(self.grid_in[key])
        n_tr, n_te = self.X_train.shape[0], self.X_test.shape[0]
        with torch.no_grad():
            out = self._outputs(torch.cat(parts))  # one pass over all the rows
            out_tr, out_te = out[:, :n_tr], out[:, n_tr : n_tr + n_te]
            loss_tr, loss_te = self._loss(out_tr, self.y_train), self._loss(out_te, self.y_test)
            diverged = ~torch.isfinite(loss_tr) if n_tr else torch.zeros_like(loss_tr, dtype=torch.bool)
            for p in self.params:  # a seed with non-finite weights has diverged, whatever its loss
                diverged |= ~torch.isfinite(p.flatten(1)).all(dim=1)
            solved = self.solved(out_tr, self.y_train) & ~diverged
        res = {"loss": loss_tr.cpu(), "test_loss": loss_te.cpu(), "solved": solved.cpu(), "diverged": diverged.cpu()}
        if strip:
            res["strip"] = quantize(self.colour(out[:, n_tr + n_te :]))
        return res

    def colour(self, out: torch.Tensor) -> torch.Tensor:
        """Outputs mapped to [−1, 1] for drawing: ±1 the two classes (or the regression range)."""
        if self.data.classes is None:
            return out
        if self.settings.loss == "bce":
            return torch.tanh(out / 2)  # 2σ(ŷ) − 1
        lo, hi = self.data.classes
        return (out - (lo + hi) / 2) / ((hi - lo) / 2)

    def heatmap(self, seed: int, compute_neurons: bool = True) -> dict[str, np.ndarray]:
        """The selected seed's output on the ``grid``² grid, and every input feature's and hidden
        neuron's value on the THUMB² grid (uint8 colour indices, clamped to [−1, 1] as
        TensorFlow Playground colours them)."""
        sl = slice(seed, seed + 1)
        with torch.no_grad():
            res = {"output": quantize(self.colour(self._outputs(self.grid_in[self.grid], sl)[0]))}
            if compute_neurons:
                x = self.grid_in[THUMB]
                _, tape = self.forward(x, sl, keep=True)
                cols = [x.T] + [a[0].T for _, a, _ in tape]  # (units, THUMB²) per layer
                res["neurons"] = quantize(torch.cat(cols, 0))
        return res

    def signal_stats(self, max_points: int = SIGNAL_POINTS, bins: int = SIGNAL_BINS) -> dict[str, Any]:
        """Every seed's signal through the layers on the training inputs, now: per layer (the
        hidden ones, then the output) the pre-activations' histogram over seeds, units and points,
        the quartiles over seeds of their mean square q_l and of the mean squared loss gradient
        with respect to them; beside the mean field's q_l (the q map from the inputs' q⁰, with
        each layer's σ_w², σ_b²: the prediction at initialisation) and its gradient ratio
        between consecutive layers."""
        if self.activation == "maxout":
            return {"note": "maxout is not elementwise: no per-unit signal theory; the other activations have one"}
        X = self.X_train if self.X_train.shape[0] else self.grid_in[THUMB]
        y = self.y_train[:max_points] if self.X_train.shape[0] else X.new_zeros(min(X.shape[0], max_points))  # no data: against 0
        X = X[:max_points]
        W, b = self._layers(slice(None))
        zs, h = [], X.expand(W[0].shape[0], -1, -1)  # (S, N, n_in)
        with torch.enable_grad():
            for l, (w, bias) in enumerate(zip(W, b)):
                z = torch.baddbmm(bias[:, None, :], h, w.transpose(1, 2)).requires_grad_()
                z.retain_grad()
                zs.append(z)
                h = self.act_fn(z) if l < len(W) - 1 else z
            loss = self._loss(h[..., 0], y)  # the run's own loss, per seed
            torch.nan_to_num(loss, nan=0.0, posinf=0.0, neginf=0.0).sum().backward()  # seeds are independent: one backward for all
        layers = []
        for z in zs:
            v = z.detach()
            q = v.square().mean(dim=(1, 2))  # (S,)
            g = z.grad.square().mean(dim=(1, 2))
            ok = torch.isfinite(q) & torch.isfinite(g)
            q, g, v = q[ok], g[ok], v[ok]
            r = float(3 * q.quantile(0.75).sqrt()) if q.numel() else 1.0
            r = r if math.isfinite(r) and r > 0 else 1.0
            hist = torch.histc(v.clamp(-r, r).float(), bins=bins, min=-r, max=r) if v.numel() else torch.zeros(bins)
            layers.append({"units": int(z.shape[2]), "range": r, "hist": (hist / hist.sum().clamp_min(1)).tolist(),
                           "q": _quartiles(q), "grad": _quartiles(g)})
        return {"layers": layers, "seeds": int(zs[0].shape[0]), "points": int(X.shape[0]), **self._mean_field(X)}

    def _mean_field(self, X: torch.Tensor) -> dict[str, Any]:
        """The theory's q_l per layer from the inputs' q⁰ = |x|²/n_in, and χ_l: E|∂/∂z_l|² over
        E|∂/∂z_{l+1}|² = σ_w²(l+1) E[φ′(√q_l z)²] · units(l+1)/units(l), per hidden layer."""
        from ..theory import derivative_moments, q_map

        sig = layer_sigmas(self.sizes, self.init, self.sigma_w2, self.sigma_b2)
        q0 = float(X.double().square().mean())
        qs, chis = [], []
        q = sig[0][0] * q0 + sig[0][1]
        for l in range(len(self.sizes)):
            qs.append(q)
            if l + 1 < len(self.sizes):
                d2 = derivative_moments(self.activation, max(q, 1e-12))[0]
                rows, _ = self.sizes[l + 1]
                chis.append(sig[l + 1][0] * d2 * rows / self.sizes[l][0])
                q = float(q_map(self.activation, [q], *sig[l + 1])[0])
        return {"q_predicted": qs, "grad_ratio_predicted": chis, "sigma_w2": [w for w, _ in sig], "sigma_b2": [v for _, v in sig]}

    def weights(self, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        W, b = self._layers(slice(seed, seed + 1))
        return [w[0].cpu().numpy() for w in W], [v[0].cpu().numpy() for v in b]

    # ------------------------------------------------------------------ one seed as a model

    def module(self, seed: int, with_features: bool = False) -> nn.Module:
        """Seed ``seed``'s network as a plain nn.Sequential (float32) of Linear and activation
        modules; ``with_features``: preceded by the input features, so that it takes (n, 2) points."""
        from ..nets import Act

        layers: list[nn.Module] = [Features(self.settings.features)] if with_features else []
        W, b = self._layers(slice(seed, seed + 1))
        for l, (w, v) in enumerate(zip(W, b)):
            lin = nn.Linear(w.shape[2], w.shape[1])
            with torch.no_grad():
                lin.weight.copy_(w[0])
                lin.bias.copy_(v[0])
            layers.append(lin)
            if l < len(W) - 1:
                layers.append(Maxout(self.k) if self.activation == "maxout" else Act(self.activation))
        return nn.Sequential(*layers).cpu()

    def to_json(self, seed: int) -> dict[str, Any]:
        """Seed ``seed``'s parameters and set-up, for export."""
        W, b = self.weights(seed)
        return {
            "format": "actlab.play/1",
            "seed": int(self.seeds[seed]),
            "epoch": self.epoch,
            "activation": self.activation,
            "features": list(self.settings.features),
            "output": "linear (a logit for cross-entropy)",
            "loss": self.settings.loss,
            "settings": self.settings.to_hash(),
            "layers": [{"weight": w.tolist(), "bias": v.tolist()} for w, v in zip(W, b)],
        }


class Features(nn.Module):
    """(n, 2) points → TensorFlow Playground's input features, in its order."""

    def __init__(self, names: tuple[str, ...]):
        super().__init__()
        self.names = tuple(names)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return torch.stack([FEATURE_FNS[n](p[:, 0], p[:, 1], torch.sin) for n in self.names], dim=1)

    def extra_repr(self) -> str:
        return ", ".join(self.names)
