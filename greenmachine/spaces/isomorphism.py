"""Isomorphism classes of TSS cells: NATS-Bench's `nats_unique_str` key (6,466 classes).

A node is the sorted `+`-join of its edges' terms: `#` for `none` or an input that is exactly `#`,
the input's own key for `skip_connect` (it passes its input through), `(input)@op` for any other op. The output node's
key identifies the cell up to reordering of sums and identity edges.
"""

from __future__ import annotations

from greenmachine.spaces.cell import Genotype

ZERO = "#"


def unique_str(arch_str: str) -> str:
    """Return the NATS isomorphism key of a TSS arch string (equal keys: isomorphic cells)."""
    nodes = ["0"]
    for edges in Genotype.parse(arch_str).nodes:
        terms = [ZERO if op == "none" or nodes[src] == ZERO else nodes[src] if op == "skip_connect"
                 else f"({nodes[src]})@{op}" for op, src in edges]
        nodes.append("+".join(sorted(terms)))
    return nodes[-1]
