"""The static playground's engine: kernel.c compiled to WebAssembly, run by Node through the page's
own module (static/js/kernel.js), against the native build of the same source on the same seeds,
minibatches and settings — every activation the kernel trains × {SGD, Adam} × {mse, bce}, 200 epochs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from actlab.play import _kernel
from actlab.play.settings import Settings
from actlab.train import init_weights

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "js" / "wasm_step.mjs"
NODE = shutil.which("node")
SIZES = [(4, 2), (3, 4), (1, 3)]  # 2 → 4 → 3 → 1
SEEDS, N, EPOCHS, BATCH = 6, 40, 200, 10

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (it runs the WebAssembly build)")


@pytest.fixture(scope="module")
def native():
    lib = _kernel.load()
    if lib is None:
        pytest.skip(f"no native kernel here: {_kernel.why_not()}")
    return lib


def _data(loss: str):
    rng = np.random.default_rng(7)
    pts = rng.uniform(-3, 3, (N, 2)).astype(np.float32)
    y = np.where(np.hypot(pts[:, 0], pts[:, 1]) < 2, 1.0, -1.0).astype(np.float32)
    t = (y + 1) / 2 if loss == "bce" else y
    perms = [rng.permutation(N) for _ in range(EPOCHS)]
    return np.concatenate([pts[p] for p in perms]), np.concatenate([t[p] for p in perms]).astype(np.float32), pts


def _node(spec: dict, tmp_path: Path) -> dict:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    done = subprocess.run([NODE, str(DRIVER), str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


CASES = [(act, opt, loss) for act in _kernel.ACTIVATIONS for opt in ("sgd", "adam") for loss in ("mse", "bce")]


def test_wasm_step_equals_native_step(wasm, native, tmp_path):
    """200 epochs of minibatch steps: every seed's parameters within 1e-5 of the native build's,
    relative to their largest, for each activation × optimizer × loss (the two builds differ in
    vector width — 8 seeds a vector, in tiles of 2 × 2, against this machine's build — and in fused
    multiply-adds)."""
    cases, natives = [], []
    flat = init_weights(SIZES, torch.arange(SEEDS))
    for act, opt, loss in CASES:
        X, t, pts = _data(loss)
        s = Settings(activation=act, optimizer=opt, loss=loss, learningRate=0.01 if opt == "adam" else 0.1, batchSize=BATCH)
        fused = _kernel.FusedStep(native, flat.clone(), SIZES, act, s, BATCH)
        steps = EPOCHS * (N // BATCH)
        assert fused.run(X, t, N, 0, steps) == steps
        natives.append((fused.read().numpy(), fused.predict(pts) if fused.wide else None))
        opts = {"activation": act, "loss": loss, "optimizer": opt, "regularization": "none", "regularizationRate": 0,
                "learningRate": s.learningRate, "batchSize": BATCH}
        cases.append({"sizes": SIZES, "flat": flat.numpy().ravel().tolist(), "opts": opts, "X": X.ravel().tolist(),
                      "t": t.tolist(), "N": N, "steps": steps})
    out = _node({"wasm": str(wasm), "cases": cases}, tmp_path)
    assert out["simd"] is True and out["vs"] == _kernel.WASM_VS
    for (act, opt, loss), (want, _), got in zip(CASES, natives, out["results"]):
        got = np.array(got["params"], np.float32).reshape(want.shape)
        assert np.isfinite(want).all()
        moved = np.abs(want - flat.numpy()).max()
        assert moved > 1e-2, f"{act} {opt} {loss}: training did not move the parameters"
        rel = np.abs(got - want).max() / np.abs(want).max()
        assert rel <= 1e-5, f"{act} {opt} {loss}: the WebAssembly step differs from the native one by {rel:.2e} (relative)"


def _seedwise(blocks: np.ndarray, seeds: int) -> np.ndarray:
    """(blocks, P, VS) in the native block layout → (S, P)."""
    return blocks.transpose(0, 2, 1).reshape(-1, blocks.shape[1])[:seeds]


def test_wasm_adam_moments_never_subnormal(wasm, native, tmp_path):
    """WebAssembly has no flush-to-zero mode: the kernel flushes Adam's moments itself. A ReLU unit
    alive on the first rows (x₁ > 0) and dead on the next (x₁ < 0, x₂ = 0) gets gradient 0 there, and its
    moments decay by 0.9 and 0.999 a step: 1,200 steps take m past the smallest normal float. The
    native build (MXCSR's flush to zero) ends with those m below 1e-30 (0, or — where 0.1·m is
    flushed without a fused multiply-add — stuck near 1e-37); the WebAssembly build flushes them to
    0 there, with no subnormal anywhere in m or v and the parameters within 1e-5 of the native ones."""
    rng = np.random.default_rng(11)
    a = rng.uniform(0.5, 1.0, (N, 2)).astype(np.float32)
    b = np.stack([-a[:, 0], np.zeros(N)], 1).astype(np.float32)  # unit 0's input −w₁x₁ + b₀ < 0 on every row
    ta, tb = np.sin(3 * a[:, 0]).astype(np.float32), np.cos(3 * a[:, 1]).astype(np.float32)
    flat = init_weights(SIZES, torch.arange(SEEDS)).numpy()
    W1 = flat[:, :8].reshape(SEEDS, 4, 2)
    W1[:, 0] = [1.0, 0.0]  # unit 0 sees x₁: alive on a, dead on b
    flat[:, 8:12] = 0.0
    flat[:, 8] = -0.1
    s = Settings(activation="relu", optimizer="adam", learningRate=0.001, batchSize=BATCH)
    first, then = 40, 1200
    fused = _kernel.FusedStep(native, torch.from_numpy(flat.copy()), SIZES, "relu", s, BATCH)
    assert not fused.wide
    Xa, Xb = np.tile(a, (first * BATCH // N + 1, 1)), np.tile(b, (then * BATCH // N + 1, 1))
    tA, tB = np.tile(ta, first * BATCH // N + 1), np.tile(tb, then * BATCH // N + 1)
    assert fused.run(Xa, tA, N, 0, first) == first and fused.run(Xb, tB, N, 0, then) == then
    want = {"params": fused.read().numpy(), "m": _seedwise(fused.m, SEEDS), "v": _seedwise(fused.v, SEEDS)}
    dead = np.abs(want["m"][:, :2]) < 1e-30  # unit 0's two weights: their m decayed away natively
    assert dead.all(), "the set-up did not kill unit 0 (its weights' m did not decay in the native build)"
    opts = {"activation": "relu", "loss": "mse", "optimizer": "adam", "regularization": "none", "regularizationRate": 0,
            "learningRate": s.learningRate, "batchSize": BATCH}
    case = {"sizes": SIZES, "flat": flat.ravel().tolist(), "opts": opts, "X": Xa.ravel().tolist(), "t": tA.tolist(),
            "N": N, "steps": first, "then": {"X": Xb.ravel().tolist(), "t": tB.tolist(), "N": N, "steps": then},
            "moments": True}
    got = {k: np.array(v, np.float32).reshape(want[k].shape) for k, v in _node({"wasm": str(wasm), "cases": [case]}, tmp_path)["results"][0].items()
           if k in want}
    for k in ("m", "v"):
        tiny = (got[k] != 0) & (np.abs(got[k]) < np.finfo(np.float32).tiny)
        assert not tiny.any(), f"{tiny.sum()} subnormal values in Adam's {k} of the WebAssembly build"
    assert (got["m"][:, :2] == 0).all()
    rel = np.abs(got["params"] - want["params"]).max() / np.abs(want["params"]).max()
    assert rel <= 1e-5, f"the WebAssembly step differs from the native one by {rel:.2e} (relative)"


def _forward(flat: np.ndarray, x: np.ndarray, act: str) -> tuple[np.ndarray, np.ndarray]:
    """numpy's forward pass of each seed: outputs (S, n) and every unit (S, n, T)."""
    fn = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
          "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z)}[act]
    W, b = _kernel.split_layers(flat.astype(np.float64), SIZES)
    h, units = np.broadcast_to(x, (flat.shape[0], *x.shape)), []
    for i, (w, c) in enumerate(zip(W, b)):
        h = np.einsum("snc,src->snr", h, w) + c[:, None, :]
        h = fn(h) if i < len(W) - 1 else h
        units.append(h)
    return h[..., 0], np.concatenate(units, axis=2)


def _predicted(wasm, tmp_path, act: str, rng_seed: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Parameters of SEEDS seeds (×3, so that units saturate), 13 rows (not a whole number of
    minibatches or vectors), and what the WebAssembly build predicts on them (with ``seed``, also
    that seed alone)."""
    flat = init_weights(SIZES, torch.arange(SEEDS)).numpy() * 3
    x = np.random.default_rng(rng_seed).uniform(-6, 6, (13, 2)).astype(np.float32)
    opts = {"activation": act, "loss": "mse", "optimizer": "sgd", "regularization": "none", "regularizationRate": 0,
            "learningRate": 0.0, "batchSize": BATCH}
    case = {"sizes": SIZES, "flat": flat.ravel().tolist(), "opts": opts, "X": x[:BATCH].ravel().tolist(),
            "t": [0.0] * BATCH, "N": BATCH, "steps": 0, "predict": x.ravel().tolist(), "seed": seed}
    return flat, x, _node({"wasm": str(wasm), "cases": [case]}, tmp_path)["results"][0]


@pytest.mark.parametrize("act", list(_kernel.ACTIVATIONS))
def test_wasm_forward_pass(wasm, tmp_path, act):
    """predict_blocks (the heatmaps, the strip and the statistics of the static page) against
    numpy's forward pass of the same parameters: outputs and every unit, 13 rows (not a whole
    number of minibatches) and 6 seeds (not a whole block)."""
    flat, x, got = _predicted(wasm, tmp_path, act, 3)
    out, units = _forward(flat, x, act)
    np.testing.assert_allclose(np.array(got["outputs"]).reshape(out.shape), out, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.array(got["units"]).reshape(units.shape), units, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("act", list(_kernel.ACTIVATIONS))
def test_wasm_forward_pass_of_one_seed(wasm, tmp_path, act):
    """predict_one (the selected seed's maps: its rows in the vector lanes) equals predict_blocks'
    lane of that seed exactly — the same sums in the same order — on 13 rows (not whole vectors)."""
    _, _, got = _predicted(wasm, tmp_path, act, 4, seed=5)
    T = sum(r for r, _ in SIZES)
    assert got["one"] == np.array(got["outputs"]).reshape(SEEDS, 13)[5].tolist()
    assert got["one_units"] == np.array(got["units"]).reshape(SEEDS, 13, T)[5].ravel().tolist()
