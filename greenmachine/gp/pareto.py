"""The size-vs-fitness front of a search: for each size, the best program that beats every smaller one."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

_NODE = re.compile(r"[^\s(),]+")


@dataclass(frozen=True)
class ParetoEntry:
    """A program on the front.

    Attributes:
        size: its number of nodes.
        expression: `str(tree)` (DEAP names; `gp.pset.parse_tree` rebuilds it).
        fitness: its fitness on the search archs.
    """

    size: int
    expression: str
    fitness: float


def size_of(expression: str) -> int:
    """Return the number of nodes of a tree from its `str` (each primitive, statistic and constant is one token)."""
    return len(_NODE.findall(expression))


def pareto_front(memo: Mapping[str, float]) -> tuple[ParetoEntry, ...]:
    """Return the front of `memo` (expression -> fitness): sizes ascending, fitness strictly rising.

    Of programs with one size and fitness the one whose expression sorts first is kept, so the front
    does not depend on the memo's order. Invalid (non-finite) fitnesses never enter it.
    """
    best: dict[int, tuple[float, str]] = {}
    for expression, fitness in memo.items():
        if not math.isfinite(fitness):
            continue
        size = size_of(expression)
        if size not in best or (-fitness, expression) < (-best[size][0], best[size][1]):
            best[size] = (fitness, expression)
    front, record = [], -math.inf
    for size in sorted(best):
        fitness, expression = best[size]
        if fitness > record:
            front.append(ParetoEntry(size, expression, fitness))
            record = fitness
    return tuple(front)
