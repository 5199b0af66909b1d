"""Model factories for `actlab audit` (run from the repository root):

    actlab audit examples.mymodels:small_cnn --input-shape 3,32,32
    actlab audit examples.mymodels:linear_stack --input-shape 64 --fold folded.pt2
"""

import torch
from torch import nn


def small_cnn() -> nn.Module:
    """Affine everywhere but one max-pool: audit names it; fold merges the rest."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.AvgPool2d(2), nn.Conv2d(8, 8, 3),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 6 * 6, 16), nn.Dropout(0.2), nn.Linear(16, 4),
    ).eval()


def linear_stack() -> nn.Module:
    """Five Linear layers with dropout: one affine map, folded into one Linear."""
    torch.manual_seed(0)
    layers = []
    for _ in range(4):
        layers += [nn.Linear(64, 64), nn.Dropout(0.1)]
    return nn.Sequential(*layers, nn.Linear(64, 10)).eval()
