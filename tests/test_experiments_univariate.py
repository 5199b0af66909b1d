"""E1: the closed-form collapse of a chain, the learner, the GIF's frames."""

import numpy as np
import pytest
from PIL import Image

from actlab import viz
from actlab.experiments.univariate import ChainModel, UnivariateConfig, chain_collapse, run_univariate


def test_chain_collapse_closed_form():
    betas, biases = [2.0, -3.0, 0.5], [1.0, 4.0, -2.0]
    # ((2x + 1)(−3) + 4)·0.5 − 2 = −3x + 0.5 − 2
    assert chain_collapse(betas, biases) == (-3.0, -1.5)
    m = ChainModel(tuple(betas), tuple(biases))
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(m(x), -3.0 * x - 1.5)


@pytest.fixture(scope="module")
def result():
    return run_univariate(UnivariateConfig(seed=1))


def test_learners_find_the_collapsed_lines(result):
    assert result.converged and result.steps <= 10_000
    for m in result.models:
        assert m["chain_error"] < 1e-10
        scale = 1 + abs(m["collapsed"]["beta"]) + abs(m["collapsed"]["b"])
        assert abs(m["learned"]["beta"] - m["collapsed"]["beta"]) < 0.1 * scale
        assert abs(m["learned"]["b"] - m["collapsed"]["b"]) < 0.1 * scale
        assert 0 <= m["steps_to_tol"] <= result.steps


def test_frames_every_5_steps_and_stop_at_10000():
    r = run_univariate(UnivariateConfig(seed=2, max_steps=40, tol=1e-30))
    assert not r.converged and r.steps == 40
    assert r.frame_steps == list(range(0, 41, 5))


def test_gif_is_written_atomically(result, tmp_path):
    path = viz.univariate_gif(result, tmp_path / "u.gif", max_frames=10)
    with Image.open(path) as im:
        assert im.n_frames == 10
    assert [p.name for p in tmp_path.iterdir()] == ["u.gif"]


def test_bad_config():
    with pytest.raises(ValueError, match="n_models"):
        UnivariateConfig(n_models=0)
