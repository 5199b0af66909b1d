"""The baseline of bench_xor_command.py: what one writes to train S XOR networks at once with
plain PyTorch — per-seed parameters as batched tensors, autograd, torch.optim.Adam.

    python benchmarks/plain_xor_loop.py [--seeds 10000] [--steps 1000] [--activation relu]

2-4-1, glorot-uniform weights, zero biases, MSE, Adam lr 0.01, full batch, no early stopping;
flush-to-zero on (as actlab's trainer), so that subnormals do not slow the baseline down.
Prints the fraction of seeds whose loss ends below 1e-3.
"""

import argparse

import torch

p = argparse.ArgumentParser()
p.add_argument("--seeds", type=int, default=10000)
p.add_argument("--steps", type=int, default=1000)
p.add_argument("--activation", default="relu", choices=["relu", "tanh", "sigmoid"])
args = p.parse_args()
torch.set_flush_denormal(True)
torch.manual_seed(0)
S, act = args.seeds, getattr(torch, args.activation)
X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).T  # (2, 4)
y = torch.tensor([0.0, 1.0, 1.0, 0.0])
W1 = ((torch.rand(S, 4, 2) * 2 - 1) * (6 / 6) ** 0.5).requires_grad_()  # (S, 4, 2)
b1 = torch.zeros(S, 4, 1, requires_grad=True)
W2 = ((torch.rand(S, 1, 4) * 2 - 1) * (6 / 5) ** 0.5).requires_grad_()  # (S, 1, 4)
b2 = torch.zeros(S, 1, 1, requires_grad=True)
opt = torch.optim.Adam([W1, b1, W2, b2], lr=0.01)
for _ in range(args.steps):
    out = (W2 @ act(W1 @ X + b1) + b2)[:, 0]  # (S, 4)
    loss = ((out - y) ** 2).mean(dim=1)  # (S,)
    opt.zero_grad()
    loss.sum().backward()
    opt.step()
print(float((loss < 1e-3).float().mean()))
