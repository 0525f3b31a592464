"""The built-in torch models and the `Add` module for residual connections.

`digits_mlp` follows FINN's TFC topology (three hidden layers of 64 neurons, each dense +
batch norm + ReLU; Umuroglu et al., FINN, FPGA'17) on 8x8 inputs; `digits_cnn` is a
CNV-like stack (two conv blocks of conv+BN+ReLU, conv+BN+ReLU, max-pool, then dense
layers; FINN's CNV) shrunk to 8x8 images. Module attribute names are the layer names the
hardware network uses.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Add(nn.Module):
    """Residual addition `a + b`; traced as an `add` layer whose `source` is `b`'s layer."""

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class MLP(nn.Module):
    """Dense + BN + ReLU blocks and a final dense classifier (TFC-like)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], classes: int) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.blocks = len(hidden)
        width = in_features
        for i, h in enumerate(hidden, start=1):
            self.add_module(f"fc{i}", nn.Linear(width, h, bias=False))
            self.add_module(f"bn{i}", nn.BatchNorm1d(h))
            self.add_module(f"relu{i}", nn.ReLU())
            width = h
        self.add_module(f"fc{len(hidden) + 1}", nn.Linear(width, classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.flatten(x)
        for i in range(1, self.blocks + 1):
            x = getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(getattr(self, f"fc{i}")(x)))
        out: Tensor = getattr(self, f"fc{self.blocks + 1}")(x)
        return out


class CNN(nn.Module):
    """CNV-like: [conv-BN-ReLU, conv-BN-ReLU, maxpool] x 2, dense-BN-ReLU, dense.

    Pools are left out where the feature map is already 1 pixel wide.
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        classes: int,
        widths: tuple[int, int] = (16, 32),
        hidden: int = 64,
    ) -> None:
        super().__init__()
        c, h, w = in_shape
        self.conv1 = nn.Conv2d(c, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.conv2 = nn.Conv2d(widths[0], widths[0], 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(widths[0])
        self.pool1: nn.Module = nn.MaxPool2d(2) if min(h, w) >= 2 else nn.Identity()
        if min(h, w) >= 2:
            h, w = h // 2, w // 2
        self.conv3 = nn.Conv2d(widths[0], widths[1], 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(widths[1])
        self.conv4 = nn.Conv2d(widths[1], widths[1], 3, padding=1, bias=False)
        self.bn4 = nn.BatchNorm2d(widths[1])
        self.pool2: nn.Module = nn.MaxPool2d(2) if min(h, w) >= 2 else nn.Identity()
        if min(h, w) >= 2:
            h, w = h // 2, w // 2
        self.fc1 = nn.Linear(widths[1] * h * w, hidden, bias=False)
        self.bn5 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = self.pool1(x)
        x = torch.relu(self.bn3(self.conv3(x)))
        x = torch.relu(self.bn4(self.conv4(x)))
        x = self.pool2(x)
        x = torch.flatten(x, 1)
        x = torch.relu(self.bn5(self.fc1(x)))
        out: Tensor = self.fc2(x)
        return out


def model_for_shape(input_shape: tuple[int, ...], classes: int) -> nn.Module:
    """The built-in model for data of this shape: MLP for feature vectors, CNN for images
    ([H, W] is read as one channel)."""
    if len(input_shape) == 1:
        return MLP(input_shape[0], (64, 64, 64), classes)
    if len(input_shape) == 2:
        return CNN((1, input_shape[0], input_shape[1]), classes)
    c, h, w = input_shape
    return CNN((c, h, w), classes)
