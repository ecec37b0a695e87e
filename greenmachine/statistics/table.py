"""Statistics of many archs side by side: what the GP evaluates its programs on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from greenmachine.finite import finite_in_order
from greenmachine.statistics.core import split_by_kind


@dataclass(frozen=True)
class StatisticsTable:
    """Per-layer and per-network statistics of N archs, as tensors ready for vectorised programs.

    Attributes:
        arch_indices: benchmark index of each row, int64 [N].
        layer: per-layer statistics, name -> float32 [N, L]; L is the deepest network's number of
            weighted layers (Conv2d and Linear, in forward order); entries past a network's depth are 0.
        mask: True where a layer exists, bool [N, L].
        scalar: per-network statistics, name -> float32 [N].
    """

    arch_indices: np.ndarray
    layer: dict[str, torch.Tensor]
    mask: torch.Tensor
    scalar: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return int(self.arch_indices.shape[0])

    @property
    def depth(self) -> int:
        """Return L, the padded number of layers."""
        return int(self.mask.shape[1])

    def select(self, rows: np.ndarray | torch.Tensor) -> StatisticsTable:
        """Return the table restricted to positions `rows` (int [M]) in this table's order."""
        idx = torch.as_tensor(np.asarray(rows), dtype=torch.long, device=self.mask.device)
        return StatisticsTable(
            self.arch_indices[np.asarray(rows)],
            {k: v[idx] for k, v in self.layer.items()},
            self.mask[idx],
            {k: v[idx] for k, v in self.scalar.items()},
        )

    def to(self, device: torch.device | str) -> StatisticsTable:
        """Return the same table with tensors on `device`."""
        return StatisticsTable(
            self.arch_indices,
            {k: v.to(device) for k, v in self.layer.items()},
            self.mask.to(device),
            {k: v.to(device) for k, v in self.scalar.items()},
        )


def stack_statistics(rows: list[tuple[int, dict[str, np.ndarray], dict[str, float]]], names: list[str]) -> StatisticsTable:
    """Return a table of the statistics `names` from per-arch (arch index, per-layer dict, scalar dict) rows.

    Args:
        rows: one entry per arch; per-layer arrays may differ in length between archs (padded with
            0 and masked); a missing statistic leaves the arch with no layers (per-layer) or NaN (scalar).
        names: the statistics to keep (unknown names raise UnknownNameError).
    """
    layer_names, scalar_names = split_by_kind(names)
    depth = max((len(v) for _, layer, _ in rows for v in layer.values()), default=0)
    n = len(rows)
    mask = torch.zeros((n, depth), dtype=torch.bool)
    layer_cols = {name: torch.zeros((n, depth), dtype=torch.float32) for name in layer_names}
    for i, (_, layer, _) in enumerate(rows):
        for name in layer_names:
            if name in layer:  # absent when the arch's pass failed: it keeps no layers
                values = torch.as_tensor(np.asarray(layer[name], dtype=np.float32))
                layer_cols[name][i, : len(values)] = values
                mask[i, : len(values)] = True
    scalar_cols = {name: torch.tensor([float(s.get(name, np.nan)) for _, _, s in rows], dtype=torch.float32)
                   for name in scalar_names}
    return StatisticsTable(np.array([a for a, _, _ in rows], dtype=np.int64), layer_cols, mask, scalar_cols)


def clean_columns(table: StatisticsTable) -> tuple[StatisticsTable, np.ndarray]:
    """Return the table with infinities made finite and the positions of rows holding a NaN.

    -inf (e.g. AZ-NAS trainability of an identity network) becomes slightly below the column's
    finite minimum and +inf slightly above its maximum, so the order of archs is kept (`finite_in_order`,
    the one policy for non-finite values; a per-layer column's range includes its zero padding).
    """
    bad = torch.zeros(len(table), dtype=torch.bool)

    def finite(column: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(finite_in_order(column, nan="keep"))

    layer = {}
    for name, column in table.layer.items():
        column = torch.where(table.mask, column, torch.zeros_like(column))
        bad |= torch.isnan(column).any(dim=1)
        layer[name] = torch.where(table.mask, finite(column), column)
    scalar = {}
    for name, column in table.scalar.items():
        bad |= torch.isnan(column)
        scalar[name] = finite(column)
    cleaned = StatisticsTable(table.arch_indices, layer, table.mask, scalar)
    return cleaned, torch.nonzero(bad).flatten().numpy()
