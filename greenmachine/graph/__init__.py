"""Zero-cost graph features (GRAF-style): what an arch's graph says about it, computed without weights or data.

Each space says what its graph is (`SearchSpace.graph_features`): the cell of a cell space, the chain of
blocks of a macro space, the widths of a width space, or, for any other space, the network's own autograd
graph. docs/ensemble.md lists the features of each space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from greenmachine.errors import GreenmachineError
from greenmachine.graph.network import NETWORK_KINDS, network_graph
from greenmachine.graph.opgraph import (OpGraph, chain_graph, edge_cell_graph, node_cell_graph, op_graph_features,
                                        op_groups, position_features)

if TYPE_CHECKING:  # the spaces import this package
    from greenmachine.spaces.base import Arch, SearchSpace


def network_features(net: nn.Module, input_shape: tuple[int, ...]) -> dict[str, float]:
    """Return the graph features of any network, read from its autograd graph (kinds: NETWORK_KINDS)."""
    return op_graph_features(network_graph(net, input_shape), NETWORK_KINDS)


def edge_cell_features(edges: Sequence[tuple[int, int, str]], num_nodes: int, kinds: Sequence[str]) -> dict[str, float]:
    """Return the features of a cell with ops on its edges: `op_graph_features` over every group of kinds, then
    the op on each edge one-hot (`edge<source><target>.<kind>`, `none` included).

    Args:
        edges: (source node, target node, op), cell node 0 the input, node num_nodes - 1 the output.
        num_nodes: cell nodes, the input included.
        kinds: the ops an edge may hold.
    """
    features = op_graph_features(edge_cell_graph(edges, num_nodes), kinds, subsets=True)
    features.update(position_features([(f"edge{s}{t}", op) for s, t, op in edges], kinds))
    return features


def graph_feature_table(space: SearchSpace, archs: Sequence[Arch]) -> dict[str, np.ndarray]:
    """Return feature name -> values over `archs` (float [len(archs)]), from `space.graph_features` of each arch.

    Raises GreenmachineError when two archs of the space give different feature names.
    """
    rows = [space.graph_features(a) for a in archs]
    names = list(rows[0]) if rows else []
    for arch, row in zip(archs, rows, strict=True):
        if list(row) != names:
            raise GreenmachineError(f"graph features of {space.name} arch {arch!r} are {sorted(row)}, "
                                    f"unlike the first arch's {sorted(names)}")
    return {name: np.array([row[name] for row in rows], dtype=np.float64) for name in names}


__all__ = ["NETWORK_KINDS", "OpGraph", "chain_graph", "edge_cell_features", "edge_cell_graph", "graph_feature_table",
           "network_features", "network_graph", "node_cell_graph", "op_graph_features", "op_groups", "position_features"]
