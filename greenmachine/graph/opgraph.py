"""Zero-cost graph features in the spirit of GRAF: op counts, live ops, and path lengths per op kind of one DAG.

A network or cell is an `OpGraph`: a DAG whose nodes carry op kinds, node 0 the input and the last node
the output. An input -> output path is *live* when none of its nodes is a zero op (`none`); an op is
live when some live path runs through it. Everything here is computed from the graph alone (no weights,
no data), in one forward and one backward sweep over the nodes, so it scales to whole networks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from greenmachine.errors import GreenmachineError

INPUT, OUTPUT = "input", "output"
ZERO = "none"  # a zero op: outputs zeros, so no path runs through it
# Nodes that combine or pass on their inputs without computing anything of their own: not counted as ops.
NEUTRAL = frozenset({INPUT, OUTPUT, "add"})


@dataclass(frozen=True)
class OpGraph:
    """A network or cell as a DAG of ops.

    Attributes:
        ops: the op kind of every node; node 0 is `input`, the last node `output`; `add` marks a node that
            sums (or concatenates) its inputs, `none` a zero op.
        edges: (source, target) node pairs, source < target (so node order is a topological order).
    """

    ops: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        n = len(self.ops)
        if n < 2 or self.ops[0] != INPUT or self.ops[-1] != OUTPUT:
            raise GreenmachineError(f"an OpGraph needs `input` first and `output` last, got ops {self.ops}")
        bad = [e for e in self.edges if not 0 <= e[0] < e[1] < n]
        if bad:
            raise GreenmachineError(f"OpGraph edges must go forwards between its {n} nodes; bad: {bad}")


def _live_nodes(graph: OpGraph) -> list[bool]:
    """Return, per node, whether a path of non-zero nodes runs through it from the input to the output."""
    n = len(graph.ops)
    passes = [op != ZERO for op in graph.ops]
    succ: list[list[int]] = [[] for _ in range(n)]
    for s, t in graph.edges:
        succ[s].append(t)
    forward = [False] * n
    forward[0] = True
    for v in range(n):  # node order is topological
        if forward[v] and passes[v]:
            for t in succ[v]:
                forward[t] = True
    backward = [False] * n
    backward[-1] = True
    for v in range(n - 1, -1, -1):
        backward[v] = backward[v] or any(backward[t] for t in succ[v])
        backward[v] = backward[v] and passes[v]
    return [f and b and p for f, b, p in zip(forward, backward, passes, strict=True)]


def op_groups(kinds: Sequence[str], subsets: bool = False) -> dict[str, frozenset[str]]:
    """Return group name -> op kinds: each kind alone and, with `subsets`, every set of 2 .. len(kinds) - 1 kinds.

    A subset is named by its kinds joined with `+` in the order of `kinds` (`nor_conv_1x1+nor_conv_3x3`).
    """
    kinds = [k for k in kinds if k != ZERO]
    sizes = range(1, max(2, len(kinds))) if subsets else range(1, 2)
    return {"+".join(c): frozenset(c) for size in sizes for c in itertools.combinations(kinds, size)}


def op_graph_features(graph: OpGraph, kinds: Sequence[str], subsets: bool = False) -> dict[str, float]:
    """Return the graph features of one OpGraph; the keys depend only on `kinds`, so every arch of a space shares them.

    Per op kind k of `kinds` (the space's op vocabulary; `none` is never one):
        count.k: nodes of kind k; live.k: those on a live input -> output path;
        in_degree.k / out_degree.k: live k ops feeding the output / fed by the input.
    Per group g of kinds (`op_groups(kinds, subsets)`: each kind, and with `subsets` every set of kinds but all):
        min_on_path.g / max_on_path.g: fewest / most ops of g on one live path (0 without a live path);
        only_path.g: ops on the shortest input -> output path made of g's ops alone (GRAF's path length with the
            other kinds banned): 0 for a direct edge, the number of nodes (longer than any path) when there is none.
    Over the whole graph:
        count.none: zero ops; paths: number of live paths;
        min_path / max_path: ops (any kind) on the shortest / longest live path;
        in_degree / out_degree: live edges into the output / out of the input.

    Raises GreenmachineError naming an op of the graph that is neither in `kinds` nor neutral.
    """
    n, ops = len(graph.ops), graph.ops
    kinds = [k for k in kinds if k != ZERO]
    unknown = sorted({op for op in ops if op not in NEUTRAL and op != ZERO and op not in kinds})
    if unknown:
        raise GreenmachineError(f"ops {unknown} are not among the kinds {kinds} (nor input, output, add, none)")
    groups = op_groups(kinds, subsets)
    members = list(groups.values()) + [frozenset(kinds)]  # the last: ops of any kind
    live = _live_nodes(graph)
    pred: list[list[int]] = [[] for _ in range(n)]
    for s, t in graph.edges:
        pred[t].append(s)
    inf = float("inf")
    # One forward sweep (node order is topological): live paths from the input and min / max group counts
    # along them; and per group the shortest path through that group's ops and neutral nodes only.
    paths = [0.0] * n
    paths[0] = 1.0
    low = [[0.0] * len(members) for _ in range(n)]
    high = [[0.0] * len(members) for _ in range(n)]
    only = [[0.0 if v == 0 else inf] * len(groups) for v in range(n)]
    for v in range(1, n):
        own = [1.0 if ops[v] in g else 0.0 for g in members]
        for j, g in enumerate(groups.values()):
            if ops[v] in NEUTRAL or ops[v] in g:
                only[v][j] = min((only[u][j] for u in pred[v]), default=inf) + own[j]
        sources = [u for u in pred[v] if live[u]]
        if not live[v] or not sources:
            continue
        paths[v] = sum(paths[u] for u in sources)
        low[v] = [min(low[u][j] for u in sources) + own[j] for j in range(len(members))]
        high[v] = [max(high[u][j] for u in sources) + own[j] for j in range(len(members))]
    out = n - 1
    into_output = [u for u in pred[out] if live[u]] if live[out] else []
    from_input = [t for s, t in graph.edges if s == 0 and live[t]]
    features: dict[str, float] = {}
    for k in kinds:
        features[f"count.{k}"] = float(sum(op == k for op in ops))
        features[f"live.{k}"] = float(sum(op == k and alive for op, alive in zip(ops, live, strict=True)))
        features[f"in_degree.{k}"] = float(sum(ops[u] == k for u in into_output))
        features[f"out_degree.{k}"] = float(sum(ops[t] == k for t in from_input))
    for j, name in enumerate(groups):
        features[f"min_on_path.{name}"] = low[out][j]
        features[f"max_on_path.{name}"] = high[out][j]
        features[f"only_path.{name}"] = only[out][j] if only[out][j] < inf else float(n)
    features[f"count.{ZERO}"] = float(sum(op == ZERO for op in ops))
    features["paths"] = paths[out]
    features["min_path"] = low[out][-1]
    features["max_path"] = high[out][-1]
    features["in_degree"] = float(len(into_output))
    features["out_degree"] = float(len(from_input))
    return features


def position_features(ops: Sequence[tuple[str, str]], kinds: Sequence[str]) -> dict[str, float]:
    """Return GRAF's op-on-position one-hot code: `<position>.<kind>` is 1 where that position holds that kind.

    Args:
        ops: (position name, op kind) for every position of the arch (e.g. `edge01` for the edge 0 -> 1).
        kinds: every kind a position may hold, `none` included where it can.
    """
    return {f"{position}.{k}": float(op == k) for position, op in ops for k in kinds}


def edge_cell_graph(edges: Sequence[tuple[int, int, str]], num_nodes: int) -> OpGraph:
    """Return the OpGraph of a cell whose ops sit on edges (NAS-Bench-201 style): one op node per edge.

    Args:
        edges: (source node, target node, op) with source < target; cell node 0 is the input.
        num_nodes: cell nodes, the input included; the last one is the output, the others sum their inputs.
    """
    ops, graph_edges = [INPUT], []
    position = {0: 0}  # cell node -> its OpGraph node
    for node in range(1, num_nodes):
        incoming = []
        for src, dst, op in edges:
            if dst == node:
                ops.append(op)
                graph_edges.append((position[src], len(ops) - 1))
                incoming.append(len(ops) - 1)
        ops.append(OUTPUT if node == num_nodes - 1 else "add")
        position[node] = len(ops) - 1
        graph_edges.extend((i, position[node]) for i in incoming)
    return OpGraph(tuple(ops), tuple(graph_edges))


def node_cell_graph(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> OpGraph:
    """Return the OpGraph of a cell whose ops sit on nodes (NAS-Bench-101 style).

    Args:
        matrix: n x n upper-triangular adjacency (row = source, column = target).
        ops: the n node ops, `input` first and `output` last.
    """
    n = len(ops)
    return OpGraph(tuple(ops), tuple((s, t) for s in range(n) for t in range(s + 1, n) if matrix[s][t]))


def chain_graph(blocks: Sequence[tuple[str, bool]]) -> OpGraph:
    """Return the OpGraph of a chain of blocks, each an op and whether a residual connection bypasses it.

    A residual block becomes two paths, through the op and around it, meeting at an `add` node.
    """
    ops, edges, last = [INPUT], [], 0
    for op, residual in blocks:
        ops.append(op)
        edges.append((last, len(ops) - 1))
        if residual:
            ops.append("add")
            edges += [(len(ops) - 2, len(ops) - 1), (last, len(ops) - 1)]
        last = len(ops) - 1
    ops.append(OUTPUT)
    edges.append((last, len(ops) - 1))
    return OpGraph(tuple(ops), tuple(edges))
