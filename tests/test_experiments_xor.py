"""E5 over many seeds: the closed-form answers for the identity, intervals, paired seeds."""

import json

import pytest
from scipy.stats import binomtest

from actlab.experiments.xor import XorConfig, run_xor, wilson


@pytest.fixture(scope="module")
def result():
    return run_xor(XorConfig(n_seeds=400, activations=("identity", "sigmoid", "relu", "tanh")))


def test_identity_row_is_the_best_affine_fit(result):
    st = result.activations["linear"]
    assert st.success_rate == 0.0 and st.n_success == 0 and st.diverged == 0
    assert st.final_loss["q05"] == pytest.approx(0.25, abs=1e-4) and st.final_loss["q95"] == pytest.approx(0.25, abs=1e-4)
    assert st.steps_to_hit["n_reached"] == 0
    c = st.collapsed
    assert abs(c["weight"][0]) < 0.01 and abs(c["weight"][1]) < 0.01 and c["bias"] == pytest.approx(0.5, abs=0.01)
    assert c["mse"] == pytest.approx(0.25, abs=1e-4)


def test_nonlinear_rows_solve_xor_often(result):
    acts = result.activations
    assert acts["tanh"].success_rate > 0.98 and acts["sigmoid"].success_rate > 0.9
    assert 0.4 < acts["relu"].success_rate < 0.8  # not the article's single lucky run
    lo, hi = acts["relu"].success_ci
    assert lo < acts["relu"].success_rate < hi
    h = acts["tanh"].steps_to_hit
    assert h["q25"] <= h["median"] <= h["q75"] and h["n_reached"] >= acts["tanh"].n_success


def test_wilson_matches_the_closed_form():
    k, n, z = 230, 400, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(centre - half, abs=1e-9) and hi == pytest.approx(centre + half, abs=1e-9)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert binomtest(k, n).proportion_ci(method="wilson").low == pytest.approx(lo)
    for k, n, c in [(0, 1, 0.95), (1, 1, 0.95), (0, 1000, 0.9), (3, 7, 0.99), (999, 1000, 0.95), (500, 1000, 0.5)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=c, method="wilson")  # scipy: the oracle, in tests only
        assert wilson(k, n, c) == (pytest.approx(ci.low, abs=1e-12), pytest.approx(ci.high, abs=1e-12))


def test_examples_and_json(result):
    st = result.activations["relu"]
    assert st.examples["solved"] and st.examples["failed"]
    d = result.to_dict()
    assert json.loads(json.dumps(d)) == d
    row = d["activations"]["relu"]
    for key in ("success_rate", "success_ci", "final_mse_median", "steps_to_1e-3_median", "diverged"):
        assert key in row
    full = result.to_dict(full=True)
    assert len(full["activations"]["relu"]["trajectory"]["params"]) == len(full["activations"]["relu"]["trajectory"]["steps"])


def test_other_datasets_use_accuracy():
    r = run_xor(XorConfig(n_seeds=40, dataset="two_gaussians", activations=("linear",), n_steps=300))
    assert r.activations["linear"].success_rate > 0.9  # linearly separable: affine suffices
    r = run_xor(XorConfig(n_seeds=40, dataset="circle", activations=("linear",), n_steps=300))
    assert r.activations["linear"].success_rate == 0.0  # a disk is not a half-plane


def test_square_and_maxout_solve_xor_without_classic_activations():
    r = run_xor(XorConfig(n_seeds=100, activations=("square", "maxout")))
    assert r.activations["square"].success_rate > 0.9 and r.activations["maxout"].success_rate > 0.9


def test_bad_config():
    with pytest.raises(ValueError, match="unknown dataset"):
        XorConfig(dataset="mnist")
    with pytest.raises(ValueError, match="n_seeds"):
        XorConfig(n_seeds=0)
    with pytest.raises(ValueError, match="unknown activation"):
        XorConfig(activations=("relu", "nope"))


@pytest.mark.parametrize("field, value", [("seed", -1), ("n_points", 0), ("noise", float("nan")), ("noise", -0.1),
                                          ("track_every", 0), ("n_examples", 1.5), ("article_stopping", "yes")])
def test_xor_config_validates_every_field(field, value):
    with pytest.raises(ValueError, match=field):
        XorConfig(**{field: value})


def test_a_run_too_large_for_the_machine_is_refused_before_allocating():
    """Was: the process was killed for memory (a billion seeds) or an OverflowError (2^66 seeds)."""
    with pytest.raises(ValueError, match="GiB to train"):
        run_xor(XorConfig(n_seeds=10**10, n_steps=1))
    with pytest.raises(ValueError, match="2\\^62"):
        XorConfig(n_seeds=2**66)
