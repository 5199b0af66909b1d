"""Figures and GIFs are written whole, from results, and are real images."""

import os

import pytest
from PIL import Image

from actlab import viz
from actlab.experiments.xor import XorConfig, run_xor


@pytest.fixture(scope="module")
def result():
    return run_xor(XorConfig(n_seeds=50, n_steps=200, activations=("linear", "relu")))


def test_static_figures(result, tmp_path):
    files = viz.write_xor_outputs(result, tmp_path)
    names = sorted(p.name for p in files)
    assert names == ["boundaries.png", "loss_curves.png", "results.json", "success.png"]
    for p in files:
        if p.suffix == ".png":
            with Image.open(p) as im:
                assert im.size[0] > 200 and im.size[1] > 200
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temporaries left


def test_3d_gif_has_a_frame_every_5_steps(result, tmp_path):
    path = viz.xor_3d_gif(result, "relu", tmp_path / "nn_xor_relu.gif", max_frames=None)
    traj = result.activations["relu"].trajectory
    expected = sum(1 for s in traj["steps"] if s <= traj["steps_run"])
    with Image.open(path) as im:
        assert im.n_frames == expected
    assert traj["steps"][:3] == [0, 5, 10]


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(RuntimeError):
        with viz.atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []


def test_write_json_is_strict(tmp_path):
    with pytest.raises(ValueError):
        viz.save_json({"x": float("nan")}, tmp_path / "r.json")
    assert os.listdir(tmp_path) == []
