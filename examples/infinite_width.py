"""The article's question at infinite width, on its own networks: a linear RNN's infinitely wide
limit, trained to convergence, predicts exactly what least squares does; the article's conv net
needs an activation to see the XOR of two colours, at any width.

    python examples/infinite_width.py

Prints each network's test accuracy at infinite width (``actlab.predict``) beside least squares,
and exits 1 if a claim fails.
"""

import sys

import torch

import actlab
from actlab import datasets, nets


def accuracy(scores, y) -> float:
    return float(((scores[:, 0] > 0.5) == (y > 0.5)).double().mean())


def least_squares(X, y, Xt) -> torch.Tensor:
    design = lambda a: torch.cat([a.reshape(len(a), -1), torch.ones(len(a), 1, dtype=a.dtype)], 1)  # noqa: E731
    return design(Xt) @ torch.linalg.lstsq(design(X), y[:, None], driver="gelsd").solution


def main() -> int:
    ok = True
    # the article's RNN (8 steps of 2 features) without activation: at infinite width, least squares itself
    X, y = map(torch.from_numpy, datasets.xor_sequences(150, seed=0))
    Xt, yt = map(torch.from_numpy, datasets.xor_sequences(150, seed=1))
    rnn = nets.build(nets.spec_from_sizes("rnn", in_shape=(8, 2), out=1, hidden=(16,)), "linear")
    p = actlab.predict(rnn, X, y, Xt, sigma_w2=1.0, sigma_b2=0.1)
    gap = float((p.mean - least_squares(X, y, Xt)).abs().max())
    print(f"linear RNN, infinite width: accuracy {accuracy(p.mean, yt):.1%}; largest difference from least squares {gap:.1e}")
    ok &= gap < 1e-8
    # the article's conv net (3×3 conv, 2×2 average pool, 3×3 conv) on 8 × 8 images: linear against relu
    X, y = map(torch.from_numpy, datasets.xor_images(150, seed=0))
    Xt, yt = map(torch.from_numpy, datasets.xor_images(150, seed=1))
    spec = nets.spec_from_sizes("conv", in_shape=(3, 8, 8), out=1, hidden=(16, 16), pool=(True, False))
    print(f"least squares on the images: accuracy {accuracy(least_squares(X, y, Xt), yt):.1%}")
    for act in ("linear", "relu"):
        p = actlab.predict(nets.build(spec, act), X, y, Xt, sigma_w2=2.0, sigma_b2=0.05, diag_reg=1e-3)
        acc = accuracy(p.mean, yt)
        print(f"{act} conv net, infinite width: accuracy {acc:.1%}")
        ok &= (acc < 0.65) if act == "linear" else (acc > 0.8)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
