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


@pytest.mark.parametrize("make, shape", [(datasets.xor_images, (3, 8, 8)), (datasets.xor_sequences, (8, 2))])
def test_xor_tasks_defeat_a_linear_model_and_not_the_product_of_two_means(make, shape):
    X, y = make(400, seed=0)
    assert X.shape == (400, *shape) and set(np.unique(y)) == {0.0, 1.0}
    Xt, yt = make(400, seed=1)
    design = lambda a: np.hstack([a.reshape(len(a), -1), np.ones((len(a), 1))])  # noqa: E731
    w = np.linalg.lstsq(design(X), y, rcond=None)[0]
    assert abs(((design(Xt) @ w > 0.5) == (yt > 0.5)).mean() - 0.5) < 0.1  # least squares: chance
    axis = (2, 3) if len(shape) == 3 else 1
    means = Xt.mean(axis=axis)  # the two shifted channels' (features') means
    product = means[:, 0] * means[:, 1]
    assert ((product > 0) == (yt > 0.5)).mean() > 0.95  # one product of two means solves it
    np.testing.assert_array_equal(make(400, seed=0)[0], X)  # the seed draws the same set
