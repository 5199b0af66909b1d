"""The vectorised trainer against a plain per-seed loop (nn.Sequential + torch.optim), and
closed-form answers."""

import math

import pytest
import torch
import torch.nn.functional as F

from actlab import datasets, train

XOR = datasets.make("xor")


def _ref_params(model):
    return torch.cat([torch.cat([m.weight.flatten(), m.bias]) for m in model if isinstance(m, torch.nn.Linear)])


def _reference(cfg, X, y, seed):
    """The per-seed reference run (nn.Module + torch.optim), and the tolerances its own sensitivity
    allows. The batched trainer sums in another order (and CPUs differ in their BLAS kernels), so
    the two agree to what training makes of rounding: 64 times the spread between the reference and
    a run from initial weights one ulp away, measured here (at least 1e-12), for the parameters and
    for the final loss. A case whose spread is not at rounding level compares nothing: refused."""
    model, losses = train.train_reference(cfg, X, y, seed)
    p0 = train.init_params(cfg, [seed], X.shape[1])[0]
    shifted, shifted_losses = train.train_reference(cfg, X, y, seed, initial=torch.nextafter(p0, p0 + 1))
    ref = _module_params(model).detach()
    tol = max(1e-12, 64 * float((ref - _module_params(shifted).detach()).abs().max()))
    assert tol < 1e-5, f"seed {seed}: one ulp of initial weights grew to {tol / 64:.2g}: too ill-conditioned to compare"
    return ref, losses, tol, max(1e-12 * abs(losses[-1]), 64 * abs(losses[-1] - shifted_losses[-1]), 1e-15)


@pytest.mark.parametrize(
    "kw",
    [
        dict(activation="linear", stop_delta=1e-10),
        dict(activation="relu", stop_loss=1e-5),
        dict(activation="sigmoid", stop_loss=1e-5),
        dict(activation="tanh", hidden=(3, 2)),
        dict(activation="maxout", maxout_k=3, hidden=(2,)),
        dict(activation="gelu", optimizer="sgd", lr=0.2),
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_batched_equals_per_seed_loop(kw):
    cfg = train.TrainConfig(dtype="float64", n_steps=300, **kw)
    seeds = [0, 5, 17, 123]
    run = train.train(cfg, XOR.X, XOR.y, seeds)
    # (torch's vectorised GELU differs from itself in the last ulp between tensor shapes on AVX-512
    # machines, and seed 17's trajectory at lr 0.2 amplifies that to 3e-8 by step 300: its tolerance,
    # measured by _reference, is that large, every other seed's at rounding level)
    for i, s in enumerate(seeds):
        ref, losses, tol, loss_tol = _reference(cfg, XOR.X, XOR.y, s)
        torch.testing.assert_close(run.params[i], ref, rtol=0, atol=tol)
        assert abs(run.final_loss[i].item() - losses[-1]) <= loss_tol
        assert run.steps_run[i].item() == len(losses) - 1  # same stopping step
    if cfg.stop_loss is not None or cfg.stop_delta is not None:  # the rule really stopped a seed early
        assert (run.steps_run < cfg.n_steps).any()


def test_minibatch_and_bce_gradients_match_autograd():
    data = datasets.make("moons", n=40, seed=2)
    cfg = train.TrainConfig(dtype="float64", activation="tanh", hidden=(5, 3), loss="bce")
    p = train.init_params(cfg, [8, 9], 2)
    X, y = torch.tensor(data.X), torch.tensor(data.y)
    loss, grad = train._loss_and_grad(cfg, train.layer_sizes(cfg, 2), p.T.contiguous(), X, y)
    for i in range(2):
        model = train.to_module(cfg, p[i], 2)
        ref = F.binary_cross_entropy_with_logits(model(X)[:, 0], y)
        ref.backward()
        assert loss[i].item() == pytest.approx(ref.item(), rel=1e-12)
        g = torch.cat([torch.cat([m.weight.grad.flatten(), m.bias.grad]) for m in model if isinstance(m, torch.nn.Linear)])
        torch.testing.assert_close(grad[:, i], g, rtol=1e-10, atol=1e-14)
    cfg_mb = train.TrainConfig(dtype="float64", activation="relu", batch_size=8, n_steps=50)
    run = train.train(cfg_mb, data.X, data.y, [4])
    ref, _, tol, _ = _reference(cfg_mb, data.X, data.y, 4)
    torch.testing.assert_close(run.params[0], ref, rtol=0, atol=tol)


def test_gpu_first_layer_path_gives_the_same_gradients(monkeypatch):
    """The broadcast-and-sum first layer used on GPUs, run here on the CPU, against autograd."""
    monkeypatch.setattr(train, "_broadcast_first_layer", lambda x: True)
    data = datasets.make("circle", n=30, seed=1)
    cfg = train.TrainConfig(dtype="float64", activation="tanh", hidden=(5, 3))
    p = train.init_params(cfg, [2, 3], 2)
    X, y = torch.tensor(data.X), torch.tensor(data.y)
    loss, grad = train._loss_and_grad(cfg, train.layer_sizes(cfg, 2), p.T.contiguous(), X, y)
    for i in range(2):
        model = train.to_module(cfg, p[i], 2)
        F.mse_loss(model(X)[:, 0], y).backward()
        g = torch.cat([torch.cat([m.weight.grad.flatten(), m.bias.grad]) for m in model if isinstance(m, torch.nn.Linear)])
        torch.testing.assert_close(grad[:, i], g, rtol=1e-10, atol=1e-14)


def test_init_is_counter_based_and_activation_independent():
    a = train.TrainConfig(activation="relu")
    b = train.TrainConfig(activation="tanh")
    many = train.init_params(a, torch.arange(1000), 2)
    torch.testing.assert_close(many[[7, 999]], train.init_params(b, [7, 999], 2), rtol=0, atol=0)
    n_w1 = 4 * 2
    bound = math.sqrt(6 / (4 + 2))
    assert many[:, :n_w1].abs().max() <= bound and many[:, n_w1 : n_w1 + 4].abs().max() == 0  # zero biases
    u = many[:, :n_w1].flatten() / bound  # uniform on (−1, 1)
    assert abs(u.mean().item()) < 0.02 and u.var().item() == pytest.approx(1 / 3, rel=0.03)


def test_identity_net_reaches_the_best_affine_fit():
    cfg = train.TrainConfig(activation="linear", n_steps=3000, dtype="float64")
    run = train.train(cfg, XOR.X, XOR.y, 50)
    assert torch.allclose(run.final_loss, torch.full((50,), 0.25, dtype=torch.float64), atol=1e-6)


def test_deep_learning_book_relu_solution_is_exact():
    """Goodfellow et al. §6.1: W = [[1,1],[1,1]], c = [0,−1], w = [1,−2], b = 0 solves XOR."""
    cfg = train.TrainConfig(activation="relu", hidden=(2,), dtype="float64")
    params = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0, -1.0, 1.0, -2.0, 0.0]], dtype=torch.float64)
    out = train.forward(cfg, params, torch.tensor(XOR.X))
    torch.testing.assert_close(out[0], torch.tensor(XOR.y), rtol=0, atol=0)
    cfg_lin = train.TrainConfig(activation="linear", hidden=(2,), dtype="float64")
    lin = train.forward(cfg_lin, params, torch.tensor(XOR.X))[0]
    assert lin[0] + lin[3] == pytest.approx(lin[1] + lin[2])  # f(0,0)+f(1,1) = f(0,1)+f(1,0) for affine f


def test_divergence_is_counted_not_raised():
    cfg = train.TrainConfig(activation="relu", optimizer="sgd", lr=1e6, n_steps=100)
    run = train.train(cfg, XOR.X, XOR.y, 8)
    assert run.diverged.any() and not torch.isfinite(run.final_loss[run.diverged]).any()


def test_history_tracking_and_first_hit():
    cfg = train.TrainConfig(activation="tanh", n_steps=400, record_every=10)
    run = train.train(cfg, XOR.X, XOR.y, 20, track=[3], track_every=5)
    assert run.loss_history.shape == (41, 20) and run.history_steps[-1] == 400
    assert run.tracked[3].shape == (81, run.params.shape[1])
    torch.testing.assert_close(run.tracked[3][-1], run.params[3])
    hit = run.first_hit
    reached = hit >= 0
    assert reached.any()
    full = train.train(train.TrainConfig(activation="tanh", n_steps=400), XOR.X, XOR.y, 20).loss_history
    for s in torch.nonzero(reached).flatten().tolist():
        assert full[hit[s], s] < 1e-3 and (full[: hit[s], s] >= 1e-3).all()


def test_flush_denormals_restores_state():
    before = train._flush_denormal_active()
    with train.flush_denormals():
        assert train._flush_denormal_active()
    assert train._flush_denormal_active() == before


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(hidden=(4, 0)), "hidden must be"),
        (dict(activation="nope"), "unknown activation"),
        (dict(n_steps=-1), "n_steps"),
        (dict(loss="hinge"), "loss must be one of"),
        (dict(lr=0.0), "lr must be"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        train.TrainConfig(**kw)


def test_bad_seeds_and_data():
    cfg = train.TrainConfig()
    with pytest.raises(ValueError, match="at least one seed"):
        train.train(cfg, XOR.X, XOR.y, [])
    with pytest.raises(ValueError, match="≥ 1"):
        train.train(cfg, XOR.X, XOR.y, 0)
    with pytest.raises(ValueError, match="expected X of shape"):
        train.train(cfg, XOR.X, XOR.y[:3], 2)


def test_compiled_step_equals_eager():
    """The torch.compile'd functional step (the GPU path) against the eager one, on the CPU."""
    cfg = train.TrainConfig(activation="tanh", n_steps=60, dtype="float64", stop_loss=0.2)
    eager = train.train(cfg, XOR.X, XOR.y, 16)
    assert (eager.steps_run < 60).any() and (eager.steps_run == 60).any()  # the mask freezes some seeds, not all
    compiled = train.train(cfg, XOR.X, XOR.y, 16, compile=True)
    torch.testing.assert_close(compiled.params, eager.params, rtol=1e-7, atol=1e-9)
    assert torch.equal(compiled.steps_run, eager.steps_run) and torch.equal(compiled.first_hit, eager.first_hit)


def test_train_many_gives_the_same_bits_as_separate_runs():
    """Blocks of seeds with different activations and stop rules in one pass = separate runs."""
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    cfgs = [
        train.TrainConfig(activation="linear", stop_delta=1e-10, n_steps=300),
        train.TrainConfig(activation="relu", stop_loss=1e-5, n_steps=300),
        train.TrainConfig(activation="gelu", stop_loss=1e-5, n_steps=300),
        train.TrainConfig(activation="sigmoid", n_steps=300),
    ]
    many = train.train_many(cfgs, X, y, 64, track=[0, 3])
    assert (many[1].steps_run < 300).any()  # the stop rules really stop seeds
    for cfg, got in zip(cfgs, many):
        ref = train.train(cfg, X, y, 64, track=[0, 3])
        assert got.config == cfg
        assert torch.equal(got.params, ref.params) and torch.equal(got.loss_history, ref.loss_history)
        assert torch.equal(got.steps_run, ref.steps_run) and torch.equal(got.first_hit, ref.first_hit)
        assert torch.equal(got.tracked[3], ref.tracked[3])


def test_train_many_gives_the_same_bits_as_separate_runs_with_padding_and_shedding():
    """301 seeds a block: padded to 320 columns, stopped seeds shed — in train_many at other times
    (and widths) than in the separate runs."""
    cfgs = [train.TrainConfig(activation=a, stop_loss=1e-5, n_steps=300) for a in ("relu", "tanh", "softsign")]
    many = train.train_many(cfgs, XOR.X, XOR.y, 301)
    for cfg, got in zip(cfgs, many):
        ref = train.train(cfg, XOR.X, XOR.y, 301)
        assert torch.equal(got.params, ref.params) and torch.equal(got.loss_history, ref.loss_history)
        assert torch.equal(got.first_hit, ref.first_hit) and torch.equal(got.steps_run, ref.steps_run)


def test_train_many_refuses_mixed_set_ups():
    X, y = torch.zeros(4, 2), torch.zeros(4)
    with pytest.raises(ValueError, match="may differ only"):
        train.train_many([train.TrainConfig(activation="relu"), train.TrainConfig(activation="tanh", lr=0.1)], X, y, 4)
    with pytest.raises(ValueError, match="maxout"):
        train.train_many([train.TrainConfig(activation="relu"), train.TrainConfig(activation="maxout")], X, y, 4)
    with pytest.raises(ValueError, match="track_every"):
        train.train(train.TrainConfig(), X, y, 4, track=[0], track_every=0)


def test_first_hit_from_the_history_equals_per_step_tracking():
    """float32 runs that record every step read first_hit off the history; others track it."""
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    base = dict(activation="tanh", stop_loss=1e-5, n_steps=400)
    every_step = train.train(train.TrainConfig(record_every=1, **base), X, y, 128)
    tracked = train.train(train.TrainConfig(record_every=7, **base), X, y, 128)
    assert (every_step.first_hit >= 0).sum() > 10 and (every_step.first_hit < 0).any()  # some hit, some never
    assert torch.equal(every_step.first_hit, tracked.first_hit)
    assert torch.equal(every_step.params, tracked.params)


def test_config_takes_numpy_integers_and_names_bad_values():
    import numpy as np

    cfg = train.TrainConfig(hidden=(np.int64(4), np.int32(3)))
    assert cfg.hidden == (4, 3) and all(type(h) is int for h in cfg.hidden)
    assert train.TrainConfig(hidden=np.int64(5)).hidden == (5,)
    for bad in ((4.5,), (0,), (True,), ()):
        with pytest.raises(ValueError, match="hidden must be"):
            train.TrainConfig(hidden=bad)


@pytest.mark.parametrize("kw", [
    dict(activation="relu", stop_loss=1e-5),
    dict(activation="tanh", stop_loss=1e-5, record_every=7),
    dict(activation="linear", stop_delta=1e-10, optimizer="sgd", lr=0.1),
    dict(activation="gelu", stop_loss=1e-5, dtype="float64"),
])
def test_dropping_stopped_seeds_changes_no_bit(monkeypatch, kw):
    """The working set sheds stopped seeds every COMPACT_EVERY steps; the oracle is the same run
    with shedding switched off."""
    cfg = train.TrainConfig(n_steps=500, **kw)
    shed = train.train(cfg, XOR.X, XOR.y, 700, track=[0, 9], track_every=7)
    assert (shed.steps_run < 300).float().mean() > 0.25  # enough stopped early for the set to shrink
    monkeypatch.setattr(train, "COMPACT_EVERY", 10**9)
    whole = train.train(cfg, XOR.X, XOR.y, 700, track=[0, 9], track_every=7)
    for name in ("params", "loss_history", "first_hit", "steps_run", "final_loss"):
        assert torch.equal(getattr(shed, name).nan_to_num(), getattr(whole, name).nan_to_num()), name
    assert torch.equal(shed.tracked[9], whole.tracked[9])


def test_a_seed_trains_to_the_same_bits_in_any_batch_of_256_or_more():
    """Blocks are padded to a multiple of 64 columns: no seed sits in a kernel's scalar tail."""
    cfg = train.TrainConfig(activation="sigmoid", stop_loss=1e-5, n_steps=400)
    a = train.train(cfg, XOR.X, XOR.y, 301)
    b = train.train(cfg, XOR.X, XOR.y, 1000)
    c = train.train(cfg, XOR.X, XOR.y, torch.arange(40, 301))
    assert a.params.shape[0] == 301 and a.loss_history.shape[1] == 301
    assert torch.equal(a.params, b.params[:301]) and torch.equal(a.loss_history, b.loss_history[:, :301])
    assert torch.equal(a.params[40:], c.params) and torch.equal(a.first_hit[40:], c.first_hit)


def _module_params(model):
    """A to_module network's parameters in actlab's flat order: each Linear's weight then bias,
    then the skip connections' weights."""
    body, skip = (model.body, model.skip) if isinstance(model, train.SkipMLP) else (model, None)
    flat = [torch.cat([m.weight.flatten(), m.bias]) for m in body if isinstance(m, torch.nn.Linear)]
    return torch.cat(flat + ([skip.weight.flatten()] if skip is not None else []))


@pytest.mark.parametrize(
    "kw",
    [
        dict(activation="sigmoid", hidden=(2,), init="uniform", init_scale=2.0, optimizer="sgd", lr=0.5),
        dict(activation="tanh", hidden=(3, 2), init="orthogonal", init_scale=1.5),
        dict(activation="sigmoid", hidden=(1,), skip=True, optimizer="sgd", lr=0.5),
        dict(activation="tanh", hidden=(1,), skip=True, init="uniform", init_scale=0.5, stop_loss=1e-3),
        dict(activation="linear", hidden=(4, 4), skip=True, init="orthogonal"),
        dict(activation="tanh", hidden=(3, 3), init="gaussian", sigma_w2=1.7, sigma_b2=0.05, optimizer="sgd", lr=0.05),
    ],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
)
def test_init_and_skip_options_equal_per_seed_torch_optim(kw):
    """The new trainer options against each seed trained alone by nn.Module + torch.optim, to the
    tolerance ``_reference`` measures. The options are exercised at step sizes where one ulp stays
    at rounding level (at lr 0.3 the Gaussian tanh net turns a one-ulp change into 0.45)."""
    cfg = train.TrainConfig(dtype="float64", n_steps=300, **kw)
    seeds = [0, 3, 11]
    run = train.train(cfg, XOR.X, XOR.y, seeds)
    assert run.params.shape[1] == train.param_count(cfg, 2)
    for i, s in enumerate(seeds):
        ref, losses, tol, loss_tol = _reference(cfg, XOR.X, XOR.y, s)
        torch.testing.assert_close(run.params[i], ref, rtol=0, atol=tol)
        assert abs(run.final_loss[i].item() - losses[-1]) <= loss_tol
        assert run.steps_run[i].item() == len(losses) - 1


def test_skip_gradient_matches_autograd():
    cfg = train.TrainConfig(dtype="float64", activation="sigmoid", hidden=(1,), skip=True, init="uniform")
    data = datasets.make("moons", n=30, seed=1)
    p = train.init_params(cfg, [4, 5], 2)
    X, y = torch.tensor(data.X), torch.tensor(data.y)
    loss, grad = train._loss_and_grad(cfg, train.layer_sizes(cfg, 2), p.T.contiguous(), X, y)
    for i in range(2):
        model = train.to_module(cfg, p[i], 2)
        assert isinstance(model, train.SkipMLP)
        torch.testing.assert_close(model(X)[:, 0], train.forward(cfg, p[i : i + 1], X)[0], rtol=0, atol=1e-14)
        ref = F.mse_loss(model(X)[:, 0], y)
        ref.backward()
        assert loss[i].item() == pytest.approx(ref.item(), rel=1e-12)
        g = torch.cat([torch.cat([m.weight.grad.flatten(), m.bias.grad]) for m in model.body if isinstance(m, torch.nn.Linear)]
                      + [model.skip.weight.grad.flatten()])
        torch.testing.assert_close(grad[:, i], g, rtol=1e-10, atol=1e-14)


def test_uniform_and_orthogonal_init_closed_forms():
    """U(−r, r) covers weights and biases; orthogonal weights satisfy W Wᵀ = g² I (or Wᵀ W)."""
    r = 0.7
    cfg = train.TrainConfig(hidden=(3,), init="uniform", init_scale=r, dtype="float64")
    p = train.init_params(cfg, torch.arange(2000), 2)  # W1 (3, 2), b1 (3), W2 (1, 3), b2 (1)
    assert p.abs().max() <= r and (p[:, 6:9].abs() > 0).all()  # biases drawn too
    assert p.flatten().var().item() == pytest.approx(r * r / 3, rel=0.03)
    glorot = train.init_params(train.TrainConfig(hidden=(3,), dtype="float64"), torch.arange(5), 2)
    scaled = train.init_params(train.TrainConfig(hidden=(3,), dtype="float64", init_scale=0.25), torch.arange(5), 2)
    torch.testing.assert_close(scaled, 0.25 * glorot, rtol=1e-15, atol=0)  # the same draws, scaled: paired
    g = 1.5
    cfg = train.TrainConfig(hidden=(5, 3), init="orthogonal", init_scale=g, dtype="float64")
    p = train.init_params(cfg, torch.arange(50), 4)
    for w, b in train._unpack(p.T.contiguous(), train.layer_sizes(cfg, 4)):
        w = w.permute(2, 0, 1)  # (S, rows, cols)
        small = w @ w.transpose(1, 2) if w.shape[1] <= w.shape[2] else w.transpose(1, 2) @ w
        eye = torch.eye(small.shape[-1], dtype=torch.float64).expand_as(small)
        torch.testing.assert_close(small, g * g * eye, rtol=0, atol=1e-12)
        assert b.abs().max() == 0
    with pytest.raises(ValueError, match="init must be one of"):
        train.TrainConfig(init="xavier")
    with pytest.raises(ValueError, match="init_scale must be a positive number"):
        train.TrainConfig(init_scale=0.0)


def test_gaussian_init_has_the_mean_field_variances():
    """init="gaussian": weights N(0, σ_w²/fan_in), biases N(0, σ_b²), over many seeds; the same
    draws at every σ (paired), and bad variances refused."""
    cfg = train.TrainConfig(hidden=(8, 4), init="gaussian", sigma_w2=2.0, sigma_b2=0.3, dtype="float64")
    p = train.init_params(cfg, torch.arange(4000), 5)
    for (w, b), (rows, cols) in zip(train._unpack(p.T.contiguous(), train.layer_sizes(cfg, 5)), train.layer_sizes(cfg, 5)):
        assert w.mean().item() == pytest.approx(0.0, abs=0.02)
        assert w.var().item() == pytest.approx(2.0 / cols, rel=0.03)
        assert b.var().item() == pytest.approx(0.3, rel=0.03)
        kurt = (w**4).mean().item() / w.var().item() ** 2
        assert kurt == pytest.approx(3.0, rel=0.05)  # Gaussian, not uniform (1.8)
    other = train.init_params(train.TrainConfig(hidden=(8, 4), init="gaussian", sigma_w2=0.5, sigma_b2=1.2, dtype="float64"),
                              torch.arange(3), 5)
    sizes = train.layer_sizes(cfg, 5)
    for (w1, b1), (w2, b2) in zip(train._unpack(p[:3].T.contiguous(), sizes), train._unpack(other.T.contiguous(), sizes)):
        torch.testing.assert_close(w2, w1 * 0.5, rtol=1e-12, atol=0)
        torch.testing.assert_close(b2, b1 * math.sqrt(1.2 / 0.3), rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="sigma_w2 must be a finite weight variance > 0"):
        train.TrainConfig(init="gaussian", sigma_w2=0.0)
    with pytest.raises(ValueError, match="sigma_b2 must be a finite bias variance"):
        train.TrainConfig(init="gaussian", sigma_b2=-1.0)


def test_train_many_blocks_with_different_sigmas_equal_separate_runs():
    cfgs = [train.TrainConfig(activation="tanh", init="gaussian", sigma_w2=s, sigma_b2=0.05, hidden=(6, 6), optimizer="sgd",
                              lr=0.1, n_steps=100) for s in (1.0, 1.76, 3.0)]
    data = datasets.make("circle", n=40, seed=2)
    many = train.train_many(cfgs, data.X, data.y, 64)
    for cfg, got in zip(cfgs, many):
        ref = train.train(cfg, data.X, data.y, 64)
        assert torch.equal(got.params, ref.params) and torch.equal(got.loss_history, ref.loss_history)


def test_train_many_blocks_with_different_init_ranges_equal_separate_runs():
    cfgs = [train.TrainConfig(activation=a, init="uniform", init_scale=r, hidden=(2,), skip=True, stop_loss=1e-4, n_steps=200)
            for a in ("sigmoid", "tanh") for r in (0.5, 2.0)]
    many = train.train_many(cfgs, XOR.X, XOR.y, 64)
    for cfg, got in zip(cfgs, many):
        ref = train.train(cfg, XOR.X, XOR.y, 64)
        assert torch.equal(got.params, ref.params) and torch.equal(got.loss_history, ref.loss_history)
        assert torch.equal(got.steps_run, ref.steps_run)
    with pytest.raises(ValueError, match="may differ only"):
        train.train_many([train.TrainConfig(), train.TrainConfig(skip=True)], XOR.X, XOR.y, 4)
