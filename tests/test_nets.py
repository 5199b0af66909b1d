"""The article's random architectures: ranges, no crash on any draw, paired weights, RNN oracle."""

import math

import numpy as np
import pytest
import torch

from actlab import nets


@pytest.mark.parametrize("arch", nets.ARCHS)
def test_draws_stay_in_the_seeds_ranges(arch):
    for seed in range(300):
        s = nets.draw(arch, seed)
        assert 1 <= s.out_shape[0] <= 128
        if arch == "dense":
            assert 1 <= s.in_shape[0] <= 128 and 1 <= len(s.hidden) <= 10
            assert all(1 <= h <= 1024 for h in s.hidden)
        elif arch == "conv":
            assert s.in_shape[0] == 3 and all(1 <= h <= 32 for h in s.in_shape[1:])
            assert 1 <= len(s.hidden) <= 3 and len(s.pool) == len(s.hidden)
            assert all(1 <= f <= 32 for f in s.hidden)
        else:
            assert s.in_shape == (100, 5) and 1 <= len(s.hidden) <= 3
            assert all(1 <= h <= 128 for h in s.hidden)


def test_every_conv_draw_builds_and_runs():
    """The original crashed on about a third of its conv draws; ours fits by construction."""
    pools_seen = set()
    for seed in range(400):
        spec = nets.draw("conv", seed)
        pools_seen.add(spec.pool)
        model = nets.build(spec, "linear", seed)
        with torch.no_grad():
            y = model(torch.zeros(1, *spec.in_shape))
        assert y.shape == (1, *spec.out_shape)
    assert (True, True, True) in pools_seen  # the tightest stack was drawn and fitted


@pytest.mark.parametrize("pool, size", [((False,), 3), ((True,), 4), ((True, True, True), 22), ((False, False, False), 7)])
def test_min_conv_size(pool, size):
    assert nets.min_conv_size(pool) == size
    spec = nets.NetSpec("conv", (3, size, size), (2,), (1,) * len(pool), pool)
    nets.build(spec)(torch.zeros(1, 3, size, size))  # fits
    if size > 3:
        with pytest.raises(ValueError, match="too small"):
            nets.spec_from_sizes("conv", in_shape=(3, size - 1, size - 1), out=2, hidden=(1,) * len(pool), pool=pool)


def test_same_seed_same_net_and_paired_across_activations():
    s1, m1 = nets.random_net("dense", 7, "linear")
    s2, m2 = nets.random_net("dense", 7, "relu")
    assert s1 == s2
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    _, m3 = nets.random_net("dense", 8, "linear")
    assert not torch.equal(next(m1.parameters()), next(m3.parameters()))


def test_glorot_biases_matter():
    spec, model = nets.random_net("dense", 3)
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            n = layer.bias.shape[0]
            assert layer.bias.abs().max() <= math.sqrt(3 / n) + 1e-7
            assert layer.bias.abs().max() > 0.1 * math.sqrt(3 / n)  # not the zero default
            bound = math.sqrt(6 / sum(layer.weight.shape))
            assert layer.weight.abs().max() <= bound + 1e-7


def test_simple_rnn_matches_a_numpy_loop():
    torch.manual_seed(0)
    rnn = nets.SimpleRNN(3, 4, "tanh").double()
    for p in rnn.parameters():
        torch.nn.init.normal_(p)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    k, u, b = (t.detach().numpy() for t in (rnn.kernel, rnn.recurrent, rnn.bias))
    h = np.zeros((2, 4))
    for t in range(6):
        h = np.tanh(x[:, t].numpy() @ k.T + h @ u.T + b)
    np.testing.assert_allclose(rnn(x).detach().numpy(), h, rtol=1e-12)
    seq = nets.SimpleRNN(3, 4, "tanh", return_sequences=True).double()
    seq.load_state_dict(rnn.state_dict())
    out = seq(x)
    assert out.shape == (2, 6, 4)
    np.testing.assert_allclose(out[:, -1].detach().numpy(), h, rtol=1e-12)


def test_rnn_recurrent_kernel_is_orthogonal():
    spec, model = nets.random_net("rnn", 2)
    u = model[0].recurrent.detach().double()
    torch.testing.assert_close(u @ u.T, torch.eye(u.shape[0], dtype=torch.float64), atol=1e-5, rtol=0)


def test_summary_and_bad_arch():
    spec = nets.NetSpec("conv", (3, 8, 8), (5,), (4, 2), (True, False))
    assert spec.summary() == "conv 3×8×8 → [conv4+avgpool, conv2] → dense 5"
    assert spec.to_dict()["summary"] == spec.summary()
    with pytest.raises(ValueError, match="expected one of: dense, conv, rnn"):
        nets.draw("mlp", 0)
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        nets.random_net("dense", 0, "nope")
