"""An example user workload for `dse evaluate --workload examples.my_workload:make`.

The factory returns `dse.nn.WorkloadData`: a torch model plus train/validation/test
arrays. `dse search --workload examples.my_workload:make` searches it with pruning (the
residual add ties `stem` and `res_b`: they are pruned as one group). Here: a small
residual CNN on scikit-learn's embedded 8x8 digits (no download), with the skip
connection written with `dse.nn.Add` so it becomes an `add` layer of the hardware network.
dse trains it (seeded) on first use and caches the weights.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from torch import Tensor, nn

from dse.nn import Add, WorkloadData


class ResidualDigits(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.res_a = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.res_a_bn = nn.BatchNorm2d(16)
        self.res_b = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.res_b_bn = nn.BatchNorm2d(16)
        self.skip = Add()
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem_bn(self.stem(x)).relu()
        y = self.res_a_bn(self.res_a(x)).relu()
        y = self.res_b_bn(self.res_b(y))
        x = self.skip(y, x).relu()
        x = self.pool(x)
        out: Tensor = self.head(x.flatten(1))
        return out


def make() -> WorkloadData:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(1).permutation(len(x))
    train, val, test = order[:1080], order[1080:1440], order[1440:]
    return WorkloadData(
        model=ResidualDigits(),
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],  # held out: `dse report` scores the front on it once, after selection
        y_test=y[test],
        name="residual-digits",
    )
