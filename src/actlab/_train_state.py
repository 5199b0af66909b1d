"""The state actlab.train keeps across steps: the working set (the seeds still training, and
what is kept of those that stopped), the fused Adam optimiser, and flush-to-zero."""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch

COMPACT_MULTIPLE = 64  # every block of the working set stays a multiple of this wide (see actlab.train)


class _WorkingSet:
    """The seeds (columns) still training, and what is kept of those that stopped.

    Up to the first compaction the working set is every column, in order (``cols`` None) and
    the tensors are the full ones. A stopped seed is frozen: its parameters are written back
    to ``full_params`` and its last loss to ``frozen`` — the loss it would be given again at
    every later step, since neither its parameters nor the data change."""

    def __init__(self, S: int, params: torch.Tensor, blocks, stops, shed: bool = True):
        self.S, self.full_params, self.stops, self.shed = S, params, stops, shed
        self.cols: torch.Tensor | None = None
        self.frozen: torch.Tensor | None = None
        self._pos: torch.Tensor | None = None
        self.blocks = blocks
        self._bounds = [(None, 0, S)] if blocks is None else [(act, sl.start, sl.stop) for act, sl in blocks]

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        return t if self.cols is None else t[self.cols]

    def scatter(self, full: torch.Tensor, part: torch.Tensor) -> None:
        if self.cols is None:
            full.copy_(part)
        else:
            full[self.cols] = part

    def add(self, full: torch.Tensor, part: torch.Tensor) -> None:
        if self.cols is None:
            full += part
        else:
            full.index_add_(0, self.cols, part.to(full.dtype))

    def full(self, loss: torch.Tensor) -> torch.Tensor:
        """(S,) losses: the working set's, and the frozen ones."""
        if self.cols is None:
            return loss
        row = self.frozen.clone()
        row[self.cols] = loss
        return row

    def column(self, i: int, params: torch.Tensor) -> torch.Tensor:
        if self.cols is None:
            return params[:, i]
        p = int(self._pos[i])
        return params[:, p] if p >= 0 else self.full_params[:, i]

    def compact(self, params: torch.Tensor, active: torch.Tensor, loss: torch.Tensor, opt):
        """Drop the stopped seeds once they are a quarter of the working set; returns the
        (possibly smaller) parameters, active mask and previous losses. Each block keeps its
        active seeds and enough stopped ones (still frozen by the mask) to stay a multiple of
        COMPACT_MULTIPLE wide."""
        if not self.shed:
            return params, active, loss
        W = params.shape[1]
        cols = torch.arange(self.S, device=params.device) if self.cols is None else self.cols
        stay = active.clone()
        widths = []
        for _, lo, hi in self._bounds:
            inside = (cols >= lo) & (cols < hi)
            n = int((active & inside).sum())
            pad = -n % COMPACT_MULTIPLE
            if pad:
                stay[(inside & ~active).nonzero().squeeze(1)[:pad]] = True
            widths.append(n + pad)
        if sum(widths) > 0.75 * W:
            return params, active, loss
        keep, gone = stay.nonzero().squeeze(1), (~stay).nonzero().squeeze(1)
        if self.frozen is None:
            self.frozen = torch.full((self.S,), math.nan, dtype=loss.dtype, device=loss.device)
        self.frozen[cols[gone]] = loss[gone]
        if self.cols is not None:  # before the first compaction, full_params is the working tensor itself
            self.full_params[:, cols[gone]] = params[:, gone]
        self.cols = cols[keep]
        params = params[:, keep].contiguous()
        if opt is not None:
            opt.compact(keep, params)
        if self.stops is not None:
            self.stops = tuple(t[keep] for t in self.stops)
        if self.blocks is not None:  # each activation's block stays contiguous, and shrinks
            starts = [0]
            for w in widths:
                starts.append(starts[-1] + w)
            self.blocks = [(act, slice(a, b)) for (act, _, _), a, b in zip(self._bounds, starts, starts[1:])]
        self._pos = torch.full((self.S,), -1, dtype=torch.int64)
        self._pos[self.cols.cpu()] = torch.arange(len(keep))
        return params, active[keep], loss[keep]

    def finish(self, params: torch.Tensor) -> torch.Tensor:
        """(P, S): every seed's final parameters."""
        if self.cols is None:
            return params
        self.full_params[:, self.cols] = params
        return self.full_params


class _FusedAdam:
    """torch.optim.Adam(fused=True)'s step on one tensor, without torch.optim: the same kernel
    (``torch._fused_adam_``) and state, but constructing a torch.optim optimiser imports
    torch._dynamo (1.2 s in a fresh process) — more than a whole 10,000-seed XOR run."""

    def __init__(self, params: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.exp_avg = torch.zeros_like(params)
        self.exp_avg_sq = torch.zeros_like(params)
        self.state_step = torch.zeros((), dtype=torch.float32, device=params.device)  # as torch.optim keeps it

    def compact(self, keep: torch.Tensor, params: torch.Tensor) -> None:
        """Keep the columns ``keep`` (seeds still training); ``params`` is their new tensor."""
        self.params = params
        self.exp_avg = self.exp_avg[:, keep].contiguous()
        self.exp_avg_sq = self.exp_avg_sq[:, keep].contiguous()

    def step(self) -> None:
        self.state_step += 1
        torch._fused_adam_(
            [self.params], [self.params.grad], [self.exp_avg], [self.exp_avg_sq], [], [self.state_step],
            lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0, eps=self.eps,
            amsgrad=False, maximize=False,
        )


def _flush_denormal_active() -> bool:
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # subnormal in float32
    return bool((tiny * 1.0).item() == 0.0)


@contextlib.contextmanager
def flush_denormals() -> Iterator[None]:
    """Flush subnormals to zero inside the block; restore the previous state after."""
    before = _flush_denormal_active()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
