"""E2–E4: drawn networks against OLS and the exact collapse (a small sample; the 50-seed run
is examples/collapse_many_seeds.py)."""

import json
import math

import pytest

from actlab import nets
from actlab.experiments.collapse import run_collapse, run_collapse_many

FIELDS = {"arch", "seed", "activation", "in_shape", "out_shape", "ols_r2", "ols_mse", "ols_seconds",
          "collapse_max_rel_error", "collapse_seconds", "rank", "affine", "residual"}


@pytest.mark.parametrize("arch", nets.ARCHS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identity_networks_collapse_exactly(arch, seed):
    r = run_collapse(arch, seed, "linear", ols=False)
    assert r.affine and r.verdict == "affine"
    assert r.collapse_max_rel_error <= 1e-10
    assert 1 <= r.rank <= min(r.out_shape[0], math.prod(r.in_shape))
    spec, _ = nets.random_net(arch, seed)
    if arch == "dense":  # W is a product of matrices: its rank is at most the narrowest layer's width
        assert r.rank <= min(spec.hidden)
    elif arch == "rnn":  # everything reaches the output through the last layer's final state
        assert r.rank <= spec.hidden[-1]


@pytest.mark.parametrize("arch", nets.ARCHS)
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_nonlinear_networks_are_flagged(arch, act):
    for seed in (0, 1):
        r = run_collapse(arch, seed, act, ols=False)
        assert not r.affine and r.verdict == "not affine" and r.residual > r.tolerance


def test_ols_baseline_reports_the_articles_figures():
    r = run_collapse("dense", 2, "identity")
    assert r.activation == "linear" and r.n_train == 1024
    assert r.ols_r2 == pytest.approx(1.0, abs=1e-9) and r.ols_mse < 1e-12 and r.ols_seconds > 0
    assert r.ols_max_rel_error < 1e-8
    d = r.to_dict()
    assert FIELDS <= set(d) and json.loads(json.dumps(d)) == d


def test_ols_is_not_exact_on_a_relu_net():
    r = run_collapse("rnn", 0, "relu", n_train=600)
    assert r.ols_r2 < 0.999 and r.collapse_max_rel_error > 1e-3


def test_many_validates_names_before_work():
    with pytest.raises(ValueError, match="unknown arch"):
        run_collapse_many(["dense", "mlp"], [0])
    seen = []
    rows = run_collapse_many(["dense"], [0, 1], "linear", ols=False, on_row=seen.append)
    assert [r.seed for r in rows] == [0, 1] and seen == rows
