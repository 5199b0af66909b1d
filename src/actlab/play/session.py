"""One page's run: settings, data, the engines (one, or two to compare), and the messages.

No web framework here: ``Session`` takes decoded messages (``handle``) and produces what to
send (JSON-able dicts and binary frames), so tests can drive it directly. The server
(``server.py``) owns the socket and the timing.

Binary frame layout: uint32 little-endian header length, the header (UTF-8 JSON), zero padding
to a multiple of 4, then the sections the header lists (name, dtype, shape, offset from the
start of the payload), each aligned to 4 bytes. The statistics over seeds are not in a frame:
it carries each seed's values (``per_seed``), and the page computes them.
"""

from __future__ import annotations

import json
import math
import random
import struct
import time
from dataclasses import replace
from typing import Any

import weakref

import numpy as np
import torch

from .. import activations
from ..stats import wilson
from .data import MAX_COORD, MAX_CSV_BYTES, MAX_POINTS, PlayData, make_data, parse_csv
from .engine import THUMB, Engine
from .mean_field import theory
from .settings import CLASSIFY_SETS, FEATURES, LIMITS, REGRESS_SETS, Settings, n_params, parse

__all__ = ["Session", "MessageError", "encode_frame", "decode_frame"]

FPS = 30  # at most this many frames a second
STATS_EVERY_S = 0.2  # statistics over all seeds (success rate, loss quartiles) at most 5 times a second
STATS_SHARE = 0.03  # and at most this share of the time (an 8 × 64 net's, 64 seeds, cost ~20 ms: then every ~0.65 s)
STRIP_EVERY_S = 0.5  # every seed's small boundary map (the strip), at most twice a second: its grid is most of the rows
STRIP_MACS = 5e8  # multiply-adds the strip's maps may cost (~20 ms): an 8 × 64 net's (64 seeds) are 16² cells, not 24²
MIN_STRIP_GRID = 12  # cells a side of a wide net's strip maps, at the least (a strip of over 400 seeds has 10)
MAX_REGIONS = 100_000  # the regions view refuses a selected seed with more (a note instead of edges)
NET_LINKS = 2000  # a network with more links (weights) than this is a large one: ...
NET_EVERY_S = 1.0  # ... its thumbnails and weights go in a frame at most this often while playing (the page redraws it then)
REGIONS_EVERY_S = 0.2  # while playing, the selected seed's regions are recomputed at most this often


class MessageError(ValueError):
    """A bad message from the page: answered with an error message, the server keeps running."""


BUDGET = 4 * LIMITS["seed_params"] * 500  # seeds × parameters × points across all pages: four of the largest runs


class Budget:
    """One budget of work shared by every page of a server: the sum over pages of seeds ×
    parameters × data points (each engine's; a comparison doubles it). Many tabs then slow each
    other down but cannot exhaust the machine: a run that would pass the budget is refused with
    a message, and the page keeps its previous run."""

    def __init__(self, limit: int = BUDGET):
        self.limit = limit
        self.sessions: weakref.WeakSet[Session] = weakref.WeakSet()

    @staticmethod
    def cost(settings: Settings, n_points: int) -> int:
        per = n_params(settings, max(1, len(settings.features)))
        return settings.seeds * per * max(1, n_points) * (2 if settings.compare != "none" else 1)

    def check(self, session: "Session", settings: Settings, n_points: int) -> None:
        others = [s for s in self.sessions if s is not session]
        used = sum(s.cost for s in others)
        need = self.cost(settings, n_points)
        if used + need > self.limit:
            raise MessageError(
                f"this run needs {need:,} seed·parameter·points of work and {len(others)} other page(s) of this server "
                f"use {used:,} of the {self.limit:,} it shares: use fewer seeds or a smaller network, or close another tab"
            )


def encode_frame(header: dict[str, Any], sections: dict[str, np.ndarray]) -> bytes:
    parts, layout, offset = [], [], 0
    for name, arr in sections.items():
        arr = np.ascontiguousarray(arr)
        raw = arr.tobytes()
        layout.append({"name": name, "dtype": str(arr.dtype), "shape": list(arr.shape), "offset": offset})
        pad = (-len(raw)) % 4
        parts.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    head = json.dumps({**header, "sections": layout}, allow_nan=False).encode()
    head += b" " * ((-(4 + len(head))) % 4)
    return struct.pack("<I", len(head)) + head + b"".join(parts)


def decode_frame(buf: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The inverse of ``encode_frame`` (for tests and scripts)."""
    (n,) = struct.unpack_from("<I", buf)
    header = json.loads(buf[4 : 4 + n])
    base = 4 + n
    out = {}
    for s in header["sections"]:
        count = math.prod(s["shape"])
        out[s["name"]] = np.frombuffer(buf, dtype=s["dtype"], count=count, offset=base + s["offset"]).reshape(s["shape"])
    return header, out


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def per_seed(st: dict[str, torch.Tensor], prefix: str) -> dict[str, np.ndarray]:
    """A frame's per-seed sections: each seed's training and test loss (float32) and state (uint8:
    0 failed, 1 solved, 2 diverged). The page computes the statistics over seeds from them
    (static/js/stats.js), the same code for the served and the static page."""
    state = np.where(st["diverged"].numpy(), 2, st["solved"].numpy().astype(np.uint8)).astype(np.uint8)
    return {f"{prefix}_loss": st["loss"].float().numpy(), f"{prefix}_test_loss": st["test_loss"].float().numpy(),
            f"{prefix}_state": state}


def _summary(st: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Statistics over seeds: success rate with its 95 % Wilson interval, loss quartiles over
    the seeds that did not diverge (diverged ones are counted, never averaged)."""
    S = st["solved"].numel()
    k = int(st["solved"].sum())
    lo, hi = wilson(k, S)
    ok = ~st["diverged"]
    out: dict[str, Any] = {"n_seeds": S, "n_solved": k, "n_diverged": int(st["diverged"].sum()),
                           "success_rate": k / S, "success_ci": [lo, hi]}
    for key, name in (("loss", "loss"), ("test_loss", "test_loss")):
        vals = st[key][ok & torch.isfinite(st[key])].double()
        if vals.numel():
            q = torch.quantile(vals, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
            out[f"{name}_q1"], out[f"{name}_median"], out[f"{name}_q3"] = (_num(v) for v in q)
        else:
            out[f"{name}_q1"] = out[f"{name}_median"] = out[f"{name}_q3"] = None
    out["status"] = "".join("d" if d else ("s" if s else "f") for s, d in zip(st["solved"].tolist(), st["diverged"].tolist()))
    return out


class Session:
    """The state of one page. ``handle(msg)`` returns the JSON replies; ``frame()`` the next
    binary frame; ``analysis()`` the collapse / audit panel; ``advance(budget)`` trains."""

    def __init__(self, device: str | torch.device = "cpu", values: dict[str, Any] | None = None, budget: Budget | None = None):
        self.device = torch.device(device)
        self.budget = budget
        self.settings, self.notices = parse(values or {})
        self.custom: np.ndarray | None = None
        self.version = 0
        self.frame_no = 0
        self.playing = False
        self.selected = 0
        self.pending_steps = 0
        self.rate_window: list[tuple[float, int]] = []
        self.view = {"regions": False, "hidden": False, "signal": False}  # page views that change no run
        self._regions_cache: tuple | None = None  # (key, when, info, edges) of the regions view
        self._build()

    # ------------------------------------------------------------------ runs

    def _build(self, data: PlayData | None = None) -> None:
        """A new run of the current settings (``data``: their data, when already made)."""
        s = self.settings
        self.data: PlayData = make_data(s, self.custom) if data is None else data
        self.cost = Budget.cost(s, len(self.data.labels))
        if self.budget is not None:
            self.budget.sessions.add(self)
        self.engines = [Engine(s, self.data, device=self.device)]
        if s.compare != "none":
            self.engines.append(Engine(s, self.data, activation=s.compare, device=self.device))
        for e in self.engines:  # an edge of chaos that does not exist: the page says which σ_w² was used instead
            if e.init_note and e.init_note not in self.notices:
                self.notices.append(e.init_note)
        self.version += 1
        self.selected = min(self.selected, s.seeds - 1)
        self.rate_window = []
        self._ols_cache = None
        self._stats_cache: dict[int, dict[str, Any]] = {}
        self._net_sent: tuple | None = None  # (run, seed, when) of the network's last thumbnails and weights

    def state_message(self) -> dict[str, Any]:
        self._net_sent = None  # the page forgets the network's sections on a state message: the next frame carries them
        d = self.data
        pts = np.column_stack([d.points, d.labels, d.train]).round(4).tolist()
        e = self.engines[0]
        return {
            "type": "state", "version": self.version, "settings": self.settings.to_hash(), "notices": self.notices,
            "points": pts, "domain": list(d.domain), "classes": None if d.classes is None else list(d.classes),
            "features": list(self.settings.features), "all_features": list(FEATURES),
            "sizes": [list(t) for t in e.sizes], "n_params": e.n_params, "maxout_k": e.k,
            "activations": list(activations.names()) + ["maxout"],
            "datasets": list(CLASSIFY_SETS), "reg_datasets": list(REGRESS_SETS), "limits": LIMITS,
            "selected": self.selected, "device": str(self.device), "playing": self.playing,
            "mean_field": [theory(self.settings, e.activation) for e in self.engines],
        }

    @staticmethod
    def known_keys() -> set[str]:
        """The URL-hash keys a run's settings take."""
        return set(parse({})[0].to_hash())

    def summary(self) -> dict[str, Any]:
        """The run from Python (the notebook widget's ``state()``): settings as URL-hash values,
        epoch, playing, and every engine's statistics over seeds (``compare``: the second run's)."""
        out: dict[str, Any] = {"settings": self.settings.to_hash(), "version": self.version, "playing": self.playing,
                               "selected": self.selected, "epoch": self.engines[0].epoch}
        for i, engine in enumerate(self.engines):
            st = _summary(engine.stats())
            st.pop("status")
            if i == 0:
                out.update(st)
            else:
                out["compare"] = {"activation": engine.activation, **st}
        return out

    def export(self, seed: int) -> dict[str, Any]:
        """One seed's parameters and set-up (the server's JSON export)."""
        if not 0 <= seed < self.settings.seeds:
            raise ValueError(f"seed must be in 0..{self.settings.seeds - 1}, got {seed}")
        return self.engines[0].to_json(seed)

    def handle(self, msg: Any) -> list[dict[str, Any]]:
        """Apply one message from the page; returns the JSON replies. Raises MessageError."""
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            raise MessageError('a message must be a JSON object with a "type", e.g. {"type": "play"}')
        kind = msg["type"]
        if kind == "set":
            values = msg.get("values")
            if not isinstance(values, dict):
                raise MessageError('"set" needs "values": an object of URL-hash keys, e.g. {"activation": "relu"}')
            if msg.get("base", "current") not in ("current", "defaults"):
                raise MessageError(f'"base" must be "current" (change these keys) or "defaults" (a whole link), got {msg.get("base")!r}')
            # a link (the page's hash) is a whole state: keys it leaves out take their defaults
            new, notices = parse(values, base=Settings() if msg.get("base") == "defaults" else self.settings)
            if new.data_name == "custom" and self.custom is None:
                self.custom = np.column_stack([self.data.points, self.data.labels]) if self.data.name != "xor4" else None
            data = make_data(new, self.custom)
            if self.budget is not None:
                self.budget.check(self, new, len(data.labels))
            self.settings, self.notices = new, notices
            self._build(data)
            return [self.state_message()]
        if kind == "step":  # one epoch, then paused (the server trains it and sends the frame)
            self.playing = False
            self.pending_steps = min(self.pending_steps + 1, 100)
            return [{"type": "playing", "playing": False, "version": self.version}]
        if kind == "play" and not self.data.train.any():
            self.playing = False
            raise MessageError("no training data: add points (click the output) or upload a CSV, or pick a dataset")
        if kind in ("play", "pause"):
            self.playing = kind == "play"
            return [{"type": "playing", "playing": self.playing, "version": self.version}]
        if kind == "reset":
            self.notices = []
            self._build()
            self.playing = False
            return [self.state_message(), {"type": "playing", "playing": False, "version": self.version}]
        if kind == "regenerate":
            self.settings = replace(self.settings, seed=f"{random.random():.5f}")
            self.notices = []
            self._build()
            return [self.state_message()]
        if kind == "select":
            seed = msg.get("seed")
            if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < self.settings.seeds:
                raise MessageError(f'"select" needs "seed": an integer in 0..{self.settings.seeds - 1}, got {seed!r}')
            self.selected = seed
            return []
        if kind == "add_point":
            x, y, label = msg.get("x"), msg.get("y"), msg.get("label", 1)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= MAX_COORD
                       for v in (x, y, label)):
                raise MessageError(f'"add_point" needs finite numbers "x", "y" and "label" within ±{MAX_COORD:g}, '
                                   f'got {x!r}, {y!r}, {label!r}')
            base = self.custom if self.data.name == "custom" else (
                None if self.data.name == "xor4" else np.column_stack([self.data.points, self.data.labels]))
            base = np.zeros((0, 3)) if base is None else base
            if len(base) >= MAX_POINTS:
                raise MessageError(f"at most {MAX_POINTS} points")
            if self.settings.problem == "classification":
                label = 1.0 if label > 0 else -1.0
            self.custom = np.vstack([base, [[float(x), float(y), float(label)]]])
            return self._use_custom()
        if kind == "clear_points":
            self.custom = np.zeros((0, 3))
            return self._use_custom()
        if kind == "csv":
            text = msg.get("text")
            if not isinstance(text, str):
                raise MessageError('"csv" needs "text": the file\'s contents')
            if len(text) > MAX_CSV_BYTES:
                raise MessageError(f"the CSV is larger than {MAX_CSV_BYTES // 1024} KiB")
            try:
                self.custom = parse_csv(text, self.settings.problem)
            except ValueError as e:
                raise MessageError(str(e)) from None
            return self._use_custom()
        if kind == "view":
            for key in ("regions", "hidden", "signal"):
                if key in msg:
                    if not isinstance(msg[key], bool):
                        raise MessageError(f'"view" takes "regions", "hidden" and "signal" as true or false, got {key}={msg[key]!r}')
                    self.view[key] = msg[key]
            return []
        if kind == "ack":
            return []
        raise MessageError(f"unknown message type {kind!r}; expected set, play, pause, step, reset, regenerate, "
                           "select, add_point, clear_points, csv, view or ack")

    def _use_custom(self) -> list[dict[str, Any]]:
        key = "dataset" if self.settings.problem == "classification" else "regDataset"
        self.settings = replace(self.settings, **{key: "custom"})
        self.notices = []
        self._build()
        if not self.data.train.any():
            self.playing = False
        return [self.state_message()]

    # ------------------------------------------------------------------ training and frames

    def advance(self, budget_s: float | None) -> None:
        """Train every engine for about ``budget_s`` seconds in all (runs may pause mid-epoch);
        None: one epoch (to the end of the current one, or a whole one from an epoch's start)."""
        if budget_s is None:
            for e in self.engines:
                e.train_epochs(1)
        elif len(self.engines) == 1:
            self.engines[0].train_for(budget_s)
        else:  # a comparison in lockstep: the compared run catches up with the main one, which waits for it
            main, other = self.engines
            t0 = time.perf_counter()
            if other.position >= main.position:
                main.train_for(budget_s / 2)
            other.train_for(max(budget_s - (time.perf_counter() - t0), 1e-4), until=main.position)
        now = time.perf_counter()
        self.rate_window.append((now, self.engines[0].epoch + self.engines[0].fraction))
        while len(self.rate_window) > 2 and now - self.rate_window[0][0] > 1.0:
            self.rate_window.pop(0)

    def strip_grid(self) -> int:
        """Cells a side of each seed's map in the strip: fewer for many seeds or a wide net."""
        S = self.settings.seeds
        g = 24 if S <= 100 else 16 if S <= 400 else 10
        return min(g, max(MIN_STRIP_GRID, int(math.sqrt(STRIP_MACS / (S * self.engines[0].macs_per_point)))))

    def step_s(self) -> float:
        """Seconds one minibatch step of every engine takes (running estimates)."""
        return sum(e.step_s for e in self.engines)

    def epochs_per_s(self) -> float | None:
        w = self.rate_window
        if len(w) < 2 or w[-1][0] <= w[0][0]:
            return None
        return (w[-1][1] - w[0][1]) / (w[-1][0] - w[0][0])

    def frame(self) -> bytes:
        """The next binary frame: statistics (header) and heatmaps (sections)."""
        self.frame_no += 1
        main = self.engines[0]
        g = self.strip_grid()
        st = self._stats(g)
        sel = self.selected
        net = self._net_due(sel)
        hm = main.heatmap(sel, compute_neurons=net)
        sections = {"output": hm["output"], "strip": st["strip"], **per_seed(st, "seed")}
        header: dict[str, Any] = {
            "type": "frame", "version": self.version, "frame": self.frame_no, "epoch": main.epoch,
            "epochs_per_s": self.epochs_per_s(), "selected": sel, "strip_grid": g, "grid": main.grid, "thumb": THUMB,
            "stats_epoch": st["epoch"], "playing": self.playing,
        }
        if net:
            W, b = main.weights(sel)
            weights = np.concatenate([w.ravel() for w in W] + [v.ravel() for v in b]).astype(np.float32)
            if not np.isfinite(weights).all():  # a diverged seed: weights drawn grey, never NaN on screen
                weights = np.nan_to_num(weights, nan=0.0, posinf=0.0, neginf=0.0)
                header["selected_diverged"] = True
            sections.update(neurons=hm["neurons"], weights=weights)
        if self.view["regions"]:
            header["regions"], edges = self._regions_frame(sel)
            if edges is not None:
                sections["region_edges"] = edges
        if len(self.engines) > 1:
            other = self.engines[1]
            st2 = self._stats(0, which=1)
            header["compare"] = {"activation": other.activation, "epoch": other.epoch}
            sections.update(per_seed(st2, "compare"), output_compare=other.heatmap(sel, compute_neurons=False)["output"])
        return encode_frame(header, sections)

    def _net_due(self, seed: int) -> bool:
        """Whether this frame carries the network's thumbnails and weights: always for a small
        network; a large one's (an 8 × 64 net's are 0.3 MB) at most every NET_EVERY_S while
        playing — the page redraws a large network no more often, and receiving and decoding
        them in every frame had cost the browser a tenth of the cores the server trains on."""
        now, key = time.perf_counter(), (self.version, seed)
        sent = self._net_sent
        links = sum(r * c for r, c in self.engines[0].sizes)
        due = (links <= NET_LINKS or not self.playing or sent is None or sent[:2] != key
               or now - sent[2] >= NET_EVERY_S)
        if due:
            self._net_sent = (*key, now)
        return due

    def _stats(self, g: int, which: int = 0) -> dict[str, Any]:
        """An engine's statistics over all seeds on the whole data, redone at most every
        STATS_EVERY_S while playing and within STATS_SHARE of the time (many seeds or wide nets);
        the strip's maps (g × g per seed: more rows than the data) at most every STRIP_EVERY_S.
        The selected seed's maps are fresh in every frame."""
        engine = self.engines[which]
        now = time.perf_counter()
        cached = self._stats_cache.get(which)
        fresh = cached is None or cached["version"] != self.version or cached["g"] != g or not self.playing
        if not fresh and now - cached["at"] < max(STATS_EVERY_S, (1 / STATS_SHARE - 1) * cached["cost"]):
            return cached
        strip_due = bool(g) and (fresh or now - cached["strip_at"] >= STRIP_EVERY_S)
        st = engine.stats(strip=g if strip_due else 0)
        if g and not strip_due:
            st["strip"] = cached["strip"]
        st.update(epoch=engine.epoch, at=now, cost=time.perf_counter() - now, version=self.version, g=g,
                  strip_at=now if strip_due or not g else cached["strip_at"])
        self._stats_cache[which] = st
        return st

    # ------------------------------------------------------------------ what the activation does

    def _plane(self):
        """The (x₁, x₂) plane in the network's inputs, when its features are x₁ and/or x₂ only."""
        feats = self.settings.features
        if not set(feats) <= {"x", "y"}:
            return None
        eye = np.eye(len(feats))
        return (np.zeros(len(feats)), eye[feats.index("x")] if "x" in feats else np.zeros(len(feats)),
                eye[feats.index("y")] if "y" in feats else np.zeros(len(feats)))

    def _regions(self, seed: int, edges: bool = True) -> tuple[dict[str, Any], np.ndarray | None]:
        """Seed ``seed``'s exact linear regions on the shown square: (count, or a note; with
        ``edges``, the cells' edges (n, 4) as x₀, y₀, x₁, y₁ float32)."""
        from ..analysis.regions import NotPiecewiseLinearError, TooManyRegionsError, regions

        plane, (lo, hi) = self._plane(), self.data.domain
        if plane is None:
            return {"note": "regions are drawn for the x₁, x₂ features only (other features curve the cells)"}, None
        t0 = time.perf_counter()
        try:
            r = regions(self.engines[0].module(seed), (lo, hi, lo, hi), plane=plane, max_regions=MAX_REGIONS)
        except (NotPiecewiseLinearError, TooManyRegionsError) as e:
            return {"note": str(e).split(":")[0] if isinstance(e, NotPiecewiseLinearError) else str(e)}, None
        except ValueError as e:  # a diverged seed (non-finite weights)
            return {"note": f"no regions: {e}"}, None
        info = {"count": r.count, "ms": 1e3 * (time.perf_counter() - t0)}
        if not edges:
            return info, None
        return info, np.concatenate([np.concatenate([p, np.roll(p, -1, axis=0)], axis=1) for p in r.polygons]).astype(np.float32)

    def _regions_frame(self, seed: int) -> tuple[dict[str, Any], np.ndarray | None]:
        """``_regions`` for the frames: kept while the selected seed, the run and the epoch stay, and recomputed at
        most every REGIONS_EVERY_S while playing (a 3 × 8 net takes milliseconds; a frame is 33)."""
        key, now = (self.version, seed, self.engines[0].epoch), time.perf_counter()
        cached = self._regions_cache
        if cached is None or cached[0][:2] != key[:2] or (cached[0] != key and (not self.playing or now - cached[1] >= REGIONS_EVERY_S)):
            self._regions_cache = cached = (key, now, *self._regions(seed))
        return cached[2], cached[3]

    def _regions_all(self, budget_s: float = 0.5) -> dict[str, Any] | None:
        """The median count over as many seeds as ``budget_s`` allows (all, for small nets)."""
        counts, t0 = [], time.perf_counter()
        for s in range(self.settings.seeds):
            info, _ = self._regions(s, edges=False)
            if "count" not in info:
                return None
            counts.append(info["count"])
            if time.perf_counter() - t0 > budget_s:
                break
        return {"median": float(np.median(counts)), "n": len(counts), "of": self.settings.seeds}

    def _hidden(self, seed: int) -> dict[str, Any]:
        from ..experiments.geometry import hidden_space_of

        main = self.engines[0]
        if len(main.W) < 2:
            return {"note": "no hidden layer: the output is affine in the features themselves"}
        lo, hi = self.data.domain
        pts, labels = self.data.points[self.data.train], self.data.labels[self.data.train]
        out = hidden_space_of(main.module(seed, with_features=True), pts, labels, level=self._threshold(), bounds=(lo, hi, lo, hi))
        return {k: out[k] for k in ("width", "projection", "explained_variance", "data", "labels", "grid",
                                     "boundary_normal", "boundary_offset", "level")}

    # ------------------------------------------------------------------ the article's point

    def analysis(self) -> dict[str, Any]:
        """The selected seed, judged: when every layer is affine, the exact collapsed map
        W′x + b′ (``actlab.collapse``, certified) beside the best affine fit (least squares on the
        training set); otherwise the audit's verdict (``actlab.audit``) on the training inputs."""
        from ..affine import NonFiniteError, NotAffineError, collapse

        main, sel = self.engines[0], self.selected
        out: dict[str, Any] = {"type": "analysis", "version": self.version, "seed": sel, "epoch": main.epoch,
                               "features": list(self.settings.features), "collapse": None, "audit": None}
        if not all(bool(torch.isfinite(p[sel]).all()) for p in main.params):
            out["note"] = f"seed {sel} has diverged (non-finite weights): no map to show; try a smaller learning rate or Adam"
            return out
        if self.view["regions"]:
            out["regions_all"] = self._regions_all()
        if self.view["hidden"]:
            out["hidden"] = self._hidden(sel)
        if self.view["signal"]:
            out["signal"] = main.signal_stats()
        model = main.module(sel)
        X = main.X_train if main.X_train.shape[0] else main.grid_in[THUMB]
        affine_layers = main.activation == "linear"
        if affine_layers:
            try:
                m = collapse(model, in_shape=(main.n_in,))
            except (NotAffineError, NonFiniteError) as e:
                out["note"] = f"no collapsed map: {e}"
            else:
                out["collapse"] = {"weight": [_num(v) for v in m.weight[0].tolist()], "bias": _num(m.bias[0]),
                                   "residual": _num(m.residual) if m.residual is not None else None}
            out["best_affine"] = self._ols()
            linear_feats = set(self.settings.features) <= {"x", "y"}
            out["why"] = (
                "Every layer is affine, so the whole network is one affine map ŷ = W′x + b′ of its inputs"
                + (": the boundary W′x + b′ = " + (f"{self._threshold():g}" if self.data.classes else "c")
                   + " is a straight line, whatever the depth or width." if linear_feats
                   else " — here of the features (" + ", ".join(self.settings.features)
                   + "), so the boundary is a level set of an affine function of them: curved in (x₁, x₂) only because the features are.")
            )
        else:
            from ..analysis.audit import audit

            try:
                rep = audit(model, X.double().cpu()[:256])
                out["audit"] = {"is_affine": rep.is_affine, "first_nonlinear": rep.first_nonlinear,
                                "modules": [{"name": r.name, "type": r.type, "affine": r.affine} for r in rep.rows if r.name],
                                "seconds": rep.seconds}
                out["why"] = ("On the training inputs this network is affine (for instance ReLU units that never switch): "
                              "its boundary is still a line." if rep.is_affine else
                              f"Not affine: the first nonlinear module is {rep.first_nonlinear!r} ({main.activation}); "
                              "bends between layers let the boundary curve.")
            except Exception as e:  # the audit is a panel, never a reason to stop the run
                out["note"] = f"audit failed: {e}"
        return out

    def _threshold(self) -> float:
        return self.engines[0]._threshold()

    def _ols(self) -> dict[str, Any] | None:
        """Least squares of the training labels on the features (sklearn's LinearRegression);
        the data's, so computed once per run."""
        if self._ols_cache is None or self._ols_cache[0] != self.version:
            self._ols_cache = (self.version, self._fit_ols())
        return self._ols_cache[1]

    def _fit_ols(self) -> dict[str, Any] | None:
        from sklearn.linear_model import LinearRegression

        main = self.engines[0]
        X, y = main.X_train.double().cpu().numpy(), main.y_train.double().cpu().numpy()
        if len(y) < 2:
            return None
        fit = LinearRegression().fit(X, y)
        return {"weight": [_num(v) for v in fit.coef_], "bias": _num(fit.intercept_), "r2": _num(fit.score(X, y))}


