"""Synthetic statistics tables for the GP tests: random depths, padded layers, known statistic names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from greenmachine.statistics.table import StatisticsTable


def synthetic_table(n: int = 200, depth: int = 12, layer_names: tuple[str, ...] = ("a", "b", "c", "d"),
                    scalar_names: tuple[str, ...] = ("s", "t"), seed: int = 0, empty: int = 0) -> StatisticsTable:
    """Return a table of n archs with random depths in [2, depth] (the first `empty` archs have no layers).

    Per-layer statistics are log-normal at existing layers and 0 at padding, as the statistics engine
    pads; scalars are log-normal.
    """
    rng = np.random.default_rng(seed)
    depths = rng.integers(2, depth + 1, size=n)
    depths[:empty] = 0
    mask = torch.as_tensor(np.arange(depth)[None, :] < depths[:, None])
    layer = {name: torch.as_tensor(rng.lognormal(size=(n, depth)).astype(np.float32)) * mask for name in layer_names}
    scalar = {name: torch.as_tensor(rng.lognormal(size=n).astype(np.float32)) for name in scalar_names}
    return StatisticsTable(np.arange(1000, 1000 + n), layer, mask, scalar)


@pytest.fixture
def make_table():
    """Return the synthetic_table factory."""
    return synthetic_table
