"""The catalogue's verdicts and the three demonstrations."""


from actlab.analysis.hidden import flush_to_zero_demo, maxout_xor, run_catalogue, square_not_universal


def test_every_catalogue_verdict_is_right():
    rows = run_catalogue()
    assert len(rows) >= 20
    wrong = [r["construct"] for r in rows if not r["agrees"]]
    assert wrong == []
    names = {r["construct"]: r for r in rows}
    assert not names["MaxPool2d(2)"]["affine"] and names["AvgPool2d(2)"]["affine"]
    assert not names["LayerNorm"]["affine"] and names["BatchNorm1d, eval mode"]["affine"]


def test_maxout_solves_xor_without_activation():
    """The hand-built unit against XOR's truth table; then trained maxout networks (no
    activation at all) against the same table, and the maxout layer judged not affine."""
    import torch

    import actlab
    from actlab.experiments.xor import XorConfig, run_xor
    from actlab.train import Maxout

    r = maxout_xor()
    assert r["outputs"] == [0.0, 1.0, 1.0, 0.0] and r["solves"] and r["mse"] == 0.0
    trained = run_xor(XorConfig(activations=("maxout",), n_seeds=200)).activations["maxout"]
    assert trained.success_rate > 0.9
    assert not actlab.check_affine(torch.nn.Sequential(torch.nn.Linear(2, 4), Maxout(2)), in_shape=(2,)).is_affine


def test_square_solves_xor_but_is_not_universal():
    from actlab.experiments.xor import XorConfig, run_xor

    assert run_xor(XorConfig(activations=("square",), n_seeds=200)).activations["square"].success_rate > 0.9
    r = square_not_universal(widths=(2, 16), n_seeds=4, n_steps=1500)
    best_q = r["best_quadratic_mse"]
    square = [f["best_mse"] for f in r["fits"] if f["activation"] == "square"]
    tanh = [f["best_mse"] for f in r["fits"] if f["activation"] == "tanh"]
    assert all(m >= best_q * (1 - 1e-9) for m in square)  # never below the closed-form bound
    assert min(tanh) < 0.1 * best_q


def test_flush_to_zero_makes_a_linear_network_nonlinear():
    r = flush_to_zero_demo()
    assert not r["float32_flush_to_zero"]["affine"] and r["float32_flush_to_zero"]["residual"] > 0.1
    assert r["float64"]["affine"]
