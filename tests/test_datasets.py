import numpy as np
import pytest

from actlab import datasets


def test_xor_is_the_truth_table():
    d = datasets.make("xor")
    np.testing.assert_array_equal(d.X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(d.y, [0, 1, 1, 0])


@pytest.mark.parametrize("name", datasets.names())
def test_shapes_labels_seeding(name):
    a = datasets.make(name, n=100, noise=0.05, seed=3)
    b = datasets.make(name, n=100, noise=0.05, seed=3)
    c = datasets.make(name, n=100, noise=0.05, seed=4)
    n = 4 if name == "xor" else 100
    assert a.X.shape == (n, 2) and a.y.shape == (n,) and set(np.unique(a.y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    if name != "xor":
        assert 0.2 < a.y.mean() < 0.8  # both classes present


def test_xor_cloud_labels_follow_the_signs():
    d = datasets.make("xor_cloud", n=500, seed=0)
    np.testing.assert_array_equal(d.y, (d.X[:, 0] * d.X[:, 1] < 0).astype(float))


def test_bad_input():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; expected one of: xor"):
        datasets.make("mnist")
    with pytest.raises(ValueError, match="n must be"):
        datasets.make("moons", n=2)
    with pytest.raises(ValueError, match="noise"):
        datasets.make("moons", noise=-1)
