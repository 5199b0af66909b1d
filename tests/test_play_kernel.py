"""The playground's fused step (play/kernel.c) against the torch step of the same engine: the
same minibatches and the same arithmetic, so the same parameters to float rounding — for every
activation, optimizer, loss and regularisation it covers, a seed count that is not a multiple
of its block, and a last minibatch shorter than the others."""

from __future__ import annotations

import math

import pytest
import torch

from actlab.play import _kernel
from actlab.play import engine as engine_mod
from actlab.play.data import make_data
from actlab.play.engine import Engine
from actlab.play.session import Session
from actlab.play.settings import parse

if _kernel.load() is None:
    pytest.skip(f"the fused kernel is not available here: {_kernel.why_not()}", allow_module_level=True)


def _engines(values: dict, monkeypatch) -> tuple[Engine, Engine]:
    s, notices = parse(values)
    assert not notices
    data = make_data(s)
    fused = Engine(s, data)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(engine_mod._kernel, "load", lambda: None)
        plain = Engine(s, data)
    assert fused.fused is not None and plain.fused is None
    return fused, plain


@pytest.fixture(scope="module")
def kernel_cache(tmp_path_factory):
    """One cache of builds for the module: each forced build is compiled once."""
    return tmp_path_factory.mktemp("kernels")


def _use_build(monkeypatch, cache, width: int):
    """Make the engines that follow use a build of ``width``-float vectors (the other settings,
    ``$ACTLAB_KERNEL_MARCH`` and ``$CC``, as the run has them)."""
    monkeypatch.setenv("ACTLAB_CACHE", str(cache))
    monkeypatch.setenv("ACTLAB_KERNEL_VS", str(width))
    for name in ("_lib", "_why", "_built"):
        monkeypatch.setattr(_kernel, name, [])
    lib = _kernel.load()
    assert lib is not None and lib.block_seeds() == width, _kernel.why_not()
    return lib


@pytest.fixture
def wide_build(monkeypatch, kernel_cache):
    """The build that takes the wide layout: 16-float vectors. Where the CPU has no AVX-512 it is
    plain vector code (two AVX or four SSE registers a vector), so the layout is tested on every
    machine, whatever width ``block_width`` would pick there."""
    return _use_build(monkeypatch, kernel_cache, 16)


def _flat(e: Engine) -> torch.Tensor:
    return torch.cat([w.reshape(w.shape[0], -1) for w in e.W] + list(e.b), 1)


CASES = [
    {"activation": "tanh", "optimizer": "sgd"},
    {"activation": "relu", "optimizer": "adam", "networkShape": "8,8,8", "dataset": "spiral", "learningRate": 0.01},
    {"activation": "sigmoid", "loss": "bce", "learningRate": 0.3},
    {"activation": "linear", "regularization": "L1", "regularizationRate": 0.01},
    {"activation": "leaky_relu", "regularization": "L2", "regularizationRate": 0.03, "optimizer": "adam", "learningRate": 0.01},
    # the other two pairings of optimizer and regularisation (each pairing is its own code in the kernel)
    {"activation": "tanh", "regularization": "L1", "regularizationRate": 0.003, "optimizer": "adam", "learningRate": 0.01},
    {"activation": "relu", "regularization": "L2", "regularizationRate": 0.01, "networkShape": "6,5"},
    {"activation": "tanh", "problem": "regression", "regDataset": "reg-gauss", "xSquared": True},
    {"activation": "relu", "networkShape": "", "dataset": "xor"},  # no hidden layer
    # widths that leave every kind of tile's remainder, a batch of 10 (tiles of 4, 4 and 2 samples)
    {"activation": "relu", "optimizer": "adam", "networkShape": "24,5,17", "dataset": "spiral", "learningRate": 0.01, "batchSize": 10},
    {"activation": "tanh", "networkShape": "64,64", "batchSize": 3, "ySquared": True, "sinX": True},
]


@pytest.mark.parametrize("values", CASES)
def test_the_fused_step_equals_the_torch_step(values, monkeypatch):
    fused, plain = _engines({"seeds": 37, "batchSize": 7, "percTrainData": 30, **values}, monkeypatch)
    for e in (fused, plain):
        e.train_epochs(3)
    assert fused.epoch == plain.epoch == 3
    a, b = _flat(fused), _flat(plain)
    assert torch.isfinite(a).all()
    assert ((a - b).abs().max() / b.abs().max()).item() < 1e-4
    # and what is measured from them: every seed's loss and success
    sa, sb = fused.stats(), plain.stats()
    torch.testing.assert_close(sa["loss"], sb["loss"], rtol=1e-3, atol=1e-6)
    assert (sa["solved"] != sb["solved"]).sum() <= 1  # a seed at the accuracy threshold may round either way


def test_pausing_mid_epoch_changes_nothing_and_padding_seeds_stay_hidden(monkeypatch):
    values = {"activation": "tanh", "optimizer": "adam", "seeds": 20, "learningRate": 0.01}
    whole, _ = _engines(values, monkeypatch)
    steps, _ = _engines(values, monkeypatch)
    whole.train_epochs(2)
    while steps.epoch < 2:
        steps.train_for(0.0, until_epoch=2)  # one call a step
    torch.testing.assert_close(_flat(whole), _flat(steps), rtol=0, atol=0)
    blocks, P, VS = whole.fused.params.shape
    assert blocks * VS >= 20 > (blocks - 1) * VS and whole.W[0].shape[0] == 20 and whole.to_json(19)["seed"] == 19
    lin = whole.module(19)[0]  # the last seed's module reads its own lane of the kernel's blocks
    block, lane = divmod(19, VS)
    torch.testing.assert_close(lin.weight.detach(), torch.from_numpy(whole.fused.params[block, : lin.weight.numel(), lane]).reshape(lin.weight.shape))


def test_calls_that_run_across_epochs_train_as_epoch_by_epoch(monkeypatch):
    # 150 training rows in batches of 7: every epoch ends on a short minibatch of 3
    values = {"activation": "relu", "optimizer": "adam", "seeds": 12, "batchSize": 7, "percTrainData": 30, "learningRate": 0.01}
    one_call, _ = _engines(values, monkeypatch)
    by_epoch, _ = _engines(values, monkeypatch)
    pieces, _ = _engines(values, monkeypatch)
    assert one_call.X_train.shape[0] % 7 == 3
    one_call.train_for(math.inf, until_epoch=4)  # one kernel call of four epochs
    for _ in range(4):
        by_epoch.train_epochs(1)
    for until in (0.3, 1.25, 1.26, 2.0, 3.9, 4.0):  # to positions mid-epoch and on epochs' ends
        pieces.train_for(math.inf, until=until)
        assert until <= pieces.position < until + 7 / pieces.X_train.shape[0] + 1e-9
    assert one_call.epoch == by_epoch.epoch == pieces.epoch == 4
    torch.testing.assert_close(_flat(one_call), _flat(by_epoch), rtol=0, atol=0)
    torch.testing.assert_close(_flat(pieces), _flat(by_epoch), rtol=0, atol=0)


def test_seeds_shared_between_threads_train_as_on_one(monkeypatch):
    values = {"activation": "relu", "optimizer": "adam", "networkShape": "16,16", "seeds": 40, "learningRate": 0.01}
    runs = []
    for threads, share in ((3, 0), (1, float("inf"))):  # every call on three threads (3 blocks), or on one
        monkeypatch.setattr(_kernel, "THREADS", threads)
        monkeypatch.setattr(_kernel, "SHARE_STEP_MACS", share)
        s, _ = parse(values)
        e = Engine(s, make_data(s))
        assert e.fused.threads == threads
        e.train_epochs(2)
        runs.append(_flat(e))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


def test_what_the_kernel_does_not_cover_keeps_the_torch_step():
    for values in ({"activation": "maxout"}, {"activation": "gelu"}):
        s, _ = parse({**values, "seeds": 4})
        assert Engine(s, make_data(s)).fused is None, values


def test_a_comparison_trains_in_lockstep():
    """The main run trains only once the compared one has caught up: after any call the compared
    run is never ahead, the gap is at most what the main run trained in that call, and a call in
    which the main run waited never widens it. Driven until both have trained half an epoch, however
    few steps each 2 ms call takes on this machine (every call trains at least one step)."""
    sess = Session(values={"activation": "relu", "compare": "tanh", "dataset": "spiral", "networkShape": "8,8",
                           "seeds": 30, "optimizer": "adam"})
    sess.playing = True
    main, other = sess.engines
    step = sess.settings.batchSize / main.X_train.shape[0]
    calls, gap = 0, 0.0
    while min(main.position, other.position) <= 0.5:
        before = main.position
        sess.advance(0.002)
        calls += 1
        assert other.position <= main.position + 1e-9
        new_gap = main.position - other.position
        if main.position > before:
            assert new_gap <= main.position - before + 1e-9
        else:
            assert new_gap <= gap + 1e-9
        gap = new_gap
        assert calls <= 4 * (0.5 / step + 2), "a call trained no step"
    assert main.position > 0.5 and other.position > 0.5


def test_without_a_compiler_the_engine_still_trains(monkeypatch):
    monkeypatch.setattr(_kernel, "_lib", [])
    monkeypatch.setattr(_kernel, "_why", [])
    monkeypatch.setenv("ACTLAB_NO_KERNEL", "1")
    assert _kernel.load() is None and "ACTLAB_NO_KERNEL" in _kernel.why_not()
    s, _ = parse({"activation": "tanh", "seeds": 5})
    e = Engine(s, make_data(s))
    e.train_epochs(1)
    assert e.fused is None and e.epoch == 1


@pytest.mark.parametrize("width", [8, 16])
@pytest.mark.parametrize("shape", ["9,6", "64,64"])  # blocks of seeds; the wide layout (units as lanes)
def test_either_block_width_gives_the_same_step(width, shape, monkeypatch, kernel_cache):
    """Builds with blocks of 8 seeds (one AVX register a vector) and of 16 (one AVX-512 register;
    block_width picks one per machine) both give the torch step's parameters: the block width is
    only a layout."""
    _use_build(monkeypatch, kernel_cache, width)
    values = {"activation": "tanh", "optimizer": "adam", "networkShape": shape, "seeds": 21, "batchSize": 7,
              "percTrainData": 30, "learningRate": 0.01}
    fused, plain = _engines(values, monkeypatch)
    if shape == "64,64" and width == 16:
        assert fused.fused.wide and fused.fused.params.shape[0] == 21
    else:
        assert fused.fused.params.shape[0] == -(-21 // width) and fused.fused.params.shape[2] == width
    for e in (fused, plain):
        e.train_epochs(3)
    a, b = _flat(fused), _flat(plain)
    assert ((a - b).abs().max() / b.abs().max()).item() < 1e-4


def test_the_block_width_follows_the_instructions_not_the_vendor(monkeypatch):
    """16 seeds a vector where a native build runs AVX-512, from Intel or AMD alike; 8 without it,
    on ARM, with a baseline target, or where /proc/cpuinfo is absent (macOS, Windows)."""
    lines = {"vendor_id": "vendor_id\t: GenuineIntel", "flags": "flags\t\t: fpu avx2 avx512f avx512bw"}
    monkeypatch.setattr(_kernel, "_cpu_line", lambda *names: next((lines[n] for n in names if n in lines), ""))
    monkeypatch.delenv("ACTLAB_KERNEL_VS", raising=False)
    monkeypatch.delenv("ACTLAB_KERNEL_MARCH", raising=False)
    assert _kernel.block_width() == 16
    lines["vendor_id"] = "vendor_id\t: AuthenticAMD"
    assert _kernel.block_width() == 16
    monkeypatch.setenv("ACTLAB_KERNEL_MARCH", "x86-64")  # a baseline build has no AVX-512 instructions
    assert _kernel.block_width() == 8
    monkeypatch.delenv("ACTLAB_KERNEL_MARCH")
    lines["flags"] = "flags\t\t: fpu avx2 fma"
    assert _kernel.block_width() == 8
    lines.clear()
    lines["Features"] = "Features\t: fp asimd evtstrm aes"  # aarch64
    assert _kernel.block_width() == 8
    lines.clear()  # no /proc/cpuinfo
    assert _kernel.block_width() == 8
    monkeypatch.setenv("ACTLAB_KERNEL_VS", "16")
    assert _kernel.block_width() == 16
    monkeypatch.setenv("ACTLAB_KERNEL_VS", "12")
    with pytest.raises(ValueError, match="8 or 16, got '12'"):
        _kernel.block_width()


# Wide nets (a seed's weights ≥ WIDE_LINKS = 4,096, hidden layers whole vectors wide) train one seed at a
# time with the units as the lanes: the same arithmetic, another layout.
WIDE_CASES = [
    {"activation": "relu", "optimizer": "adam", "networkShape": "32,32,32,32,32", "dataset": "spiral", "learningRate": 0.01},
    {"activation": "tanh", "optimizer": "sgd", "networkShape": "64,64", "batchSize": 10, "xSquared": True, "sinY": True},
    {"activation": "sigmoid", "loss": "bce", "networkShape": "64,64,32", "learningRate": 0.3, "batchSize": 3},
    {"activation": "leaky_relu", "regularization": "L1", "regularizationRate": 0.003, "optimizer": "adam",
     "networkShape": "48,48,48", "learningRate": 0.01},
    {"activation": "linear", "regularization": "L2", "regularizationRate": 0.01, "networkShape": "64,64"},
    {"activation": "relu", "problem": "regression", "regDataset": "reg-plane", "networkShape": "48,48,48", "optimizer": "adam",
     "learningRate": 0.003, "regularization": "L2", "regularizationRate": 0.001},
]


@pytest.mark.parametrize("values", WIDE_CASES)
def test_the_wide_layout_equals_the_torch_step(values, monkeypatch, wide_build):
    fused, plain = _engines({"seeds": 7, "batchSize": 7, "percTrainData": 30, **values}, monkeypatch)
    assert fused.fused.wide and fused.fused.params.shape[0] == 7
    for e in (fused, plain):
        e.train_epochs(3)
    a, b = _flat(fused), _flat(plain)
    assert torch.isfinite(a).all()
    assert ((a - b).abs().max() / b.abs().max()).item() < 1e-4
    torch.testing.assert_close(fused.stats()["loss"], plain.stats()["loss"], rtol=1e-3, atol=1e-6)


def test_the_wide_layout_reads_back_what_it_was_given_and_leaves_padding_at_zero(monkeypatch, wide_build):
    values = {"activation": "sigmoid", "networkShape": "64,64", "seeds": 5, "sinX": True}  # 3 inputs, padded to a vector
    fused, plain = _engines(values, monkeypatch)
    assert fused.fused.wide
    torch.testing.assert_close(_flat(fused), _flat(plain), rtol=0, atol=0)  # before training: the same bits
    fused.train_epochs(2)
    for (r, c), (w, b) in zip(fused.sizes, fused.fused.views):
        assert not w[:, c:, :].any() and not w[:, :, r:].any() and not b[:, r:].any()  # sigmoid(0) = ½ never leaks in


def test_the_wide_layout_is_the_same_on_any_threads_and_across_calls(monkeypatch, wide_build):
    values = {"activation": "relu", "optimizer": "adam", "networkShape": "32,32,32,32,32", "seeds": 9, "learningRate": 0.01}
    runs = []
    for threads, share in ((3, 0), (1, float("inf"))):
        monkeypatch.setattr(_kernel, "THREADS", threads)
        monkeypatch.setattr(_kernel, "SHARE_STEP_MACS", share)
        s, _ = parse(values)
        e = Engine(s, make_data(s))
        assert e.fused.wide and e.fused.threads == threads
        if threads == 3:
            e.train_epochs(3)
        else:  # one call a step, mid-epoch pauses included
            while e.epoch < 3:
                e.train_for(0.0, until_epoch=3)
        runs.append(_flat(e))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


def test_which_nets_take_the_wide_layout():
    assert _kernel.wide_layout([(64, 2)] + [(64, 64)] * 7 + [(1, 64)], 16)
    assert not _kernel.wide_layout([(8, 2), (8, 8), (8, 8), (1, 8)], 16)  # small: blocks of seeds
    assert not _kernel.wide_layout([(32, 2), (32, 32), (32, 32), (1, 32)], 16)  # 2,144 weights: a 16-seed block fits the L2
    assert not _kernel.wide_layout([(20, 2), (20, 20), (20, 20), (20, 20), (20, 20), (20, 20), (1, 20)], 16)  # 20 ∤ 16
    assert not _kernel.wide_layout([(1, 4096)], 16)  # no hidden layer
    assert not _kernel.wide_layout([(64, 2)] + [(64, 64)] * 7 + [(1, 64)], 8)  # 8-float vectors: blocks of seeds


def test_the_wide_layout_runs_in_a_build_of_8_float_vectors_too(monkeypatch, kernel_cache):
    """Not chosen there (slower), but the kernel's portable paths (the scalar transpose, the
    square root and divide) give the same step."""
    _use_build(monkeypatch, kernel_cache, 8)
    monkeypatch.setattr(_kernel, "wide_layout", lambda sizes, width: True)
    fused, plain = _engines({"activation": "tanh", "optimizer": "adam", "networkShape": "16,24", "seeds": 5,
                             "batchSize": 7, "learningRate": 0.01}, monkeypatch)
    assert fused.fused.wide and fused.fused.lib.block_seeds() == 8
    for e in (fused, plain):
        e.train_epochs(3)
    a, b = _flat(fused), _flat(plain)
    assert ((a - b).abs().max() / b.abs().max()).item() < 1e-4


def test_the_wide_forward_pass_gives_the_torch_outputs(monkeypatch, wide_build):
    """Statistics and the selected seed's map of a wide net come from the kernel's forward pass."""
    values = {"activation": "tanh", "networkShape": "64,64", "seeds": 6, "xSquared": True}
    fused, _ = _engines(values, monkeypatch)
    fused.train_epochs(2)
    X = torch.cat([fused.X_train, fused.X_test])
    want = fused.forward(X)[0]
    torch.testing.assert_close(torch.from_numpy(fused.fused.predict(X.numpy())), want, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(fused.fused.predict(X.numpy(), slice(4, 5))), want[4:5], rtol=1e-4, atol=1e-5)
    assert fused.fused.predict(X.numpy(), slice(6, 6)).shape == (0, X.shape[0])
    with pytest.raises(ValueError, match="contiguous"):
        fused.fused.predict(X.numpy(), slice(0, 6, 2))
    small, _ = _engines({"activation": "tanh", "seeds": 3}, monkeypatch)
    assert small.fused.predict(X[:, :2].numpy()) is None  # blocks of seeds: torch's forward pass
