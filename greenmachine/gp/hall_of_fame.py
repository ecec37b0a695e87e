"""The best distinct proxies of a search, stripped of outer wrappers that cannot change a ranking.

Kendall tau sees only ranks, so `sigmoid(x)`, `x + c` and `c * x` (c > 0) score exactly like `x`.
Before a tree is stored, such outer wrappers are removed; and trees that rank the search archs
identically are one proxy, kept in its smallest form. Which wrappers qualify is declared next to
each primitive (`PrimitiveDef.keep`); since float arithmetic can tie values that the formula keeps
apart (a sigmoid saturates at 1), a wrapper is only removed when the search archs' ranking is
verifiably unchanged.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from deap import gp

from greenmachine.gp.evaluate import constant_value
from greenmachine.gp.pset import definition_of

Scorer = Callable[[gp.PrimitiveTree], list[np.ndarray]]
"""tree -> its scores on each search task, float [N_t] per task (`Fitness.scores`)."""


@dataclass(frozen=True)
class HallOfFameEntry:
    """A proxy found by the search.

    Attributes:
        tree: the stripped tree.
        expression: `str(tree)`; `deap.gp.PrimitiveTree.from_string(expression, pset)` rebuilds it.
        fitness: its fitness on the search archs.
        size: its number of nodes.
    """

    tree: gp.PrimitiveTree
    expression: str
    fitness: float
    size: int


def ranking(scores: list[np.ndarray]) -> list[np.ndarray]:
    """Return the dense ranks of each score vector (int [N_t] per task; equal scores, equal ranks)."""
    return [np.unique(s, return_inverse=True)[1] for s in scores]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def arguments_of(tree: gp.PrimitiveTree) -> list[gp.PrimitiveTree]:
    """Return the subtrees that are the arguments of the tree's root, in order."""
    arguments, index = [], 1
    for _ in range(tree[0].arity):
        span = tree.searchSubtree(index)
        arguments.append(gp.PrimitiveTree(tree[span]))
        index = span.stop
    return arguments


def strip_wrappers(tree: gp.PrimitiveTree, scorer: Scorer) -> tuple[gp.PrimitiveTree, list[np.ndarray]]:
    """Return `tree` without the outer wrappers that leave its ranking of the search archs unchanged, and that ranking.

    Args:
        tree: a tree whose scores are valid (finite, not constant).
        scorer: computes a tree's scores on the search tasks.

    Returns:
        the stripped tree and the dense ranks of its scores on each task (int [N_t] per task).
    """
    ranks = ranking(scorer(tree))
    current = gp.PrimitiveTree(tree)
    while isinstance(current[0], gp.Primitive):
        keep_rule = definition_of(current[0]).keep
        arguments = arguments_of(current)
        keep = keep_rule(tuple(constant_value(a) for a in arguments)) if keep_rule else None
        if keep is None:
            break
        candidate_scores = scorer(arguments[keep])
        if not all(np.isfinite(s).all() for s in candidate_scores) or not _same(ranking(candidate_scores), ranks):
            break
        current = arguments[keep]
    return current, ranks


def _fingerprint(ranks: list[np.ndarray]) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for r in ranks:
        digest.update(r.astype(np.int64).tobytes())
        digest.update(b"|")
    return digest.digest()


class HallOfFame:
    """The `capacity` best distinct proxies seen, best first (ties: smaller, then by expression).

    Distinct means ranking the search archs differently: of trees with one ranking, the smallest is
    kept. Plain data (pickles with a checkpoint); the scorer is passed to each `update`.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.entries: list[HallOfFameEntry] = []
        self._fingerprints: list[bytes] = []
        self._seen: set[str] = set()

    def update(self, trees: Iterable[gp.PrimitiveTree], fitnesses: Iterable[float], scorer: Scorer) -> None:
        """Offer trees with their fitness; invalid (non-finite) fitnesses and expressions seen before are skipped."""
        for tree, fitness in zip(trees, fitnesses):
            key = str(tree)
            if not math.isfinite(fitness) or key in self._seen:
                continue
            self._seen.add(key)  # the entry threshold only rises: a tree turned away now always would be
            if len(self.entries) == self.capacity and fitness < self.entries[-1].fitness:
                continue
            stripped, ranks = strip_wrappers(tree, scorer)
            fingerprint = _fingerprint(ranks)
            entry = HallOfFameEntry(stripped, str(stripped), fitness, len(stripped))
            if fingerprint in self._fingerprints:
                i = self._fingerprints.index(fingerprint)
                if (entry.size, entry.expression) >= (self.entries[i].size, self.entries[i].expression):
                    continue
                self.entries[i] = entry
            else:
                self.entries.append(entry)
                self._fingerprints.append(fingerprint)
            order = sorted(range(len(self.entries)), key=lambda j: (-self.entries[j].fitness, self.entries[j].size,
                                                                    self.entries[j].expression))[:self.capacity]
            self.entries = [self.entries[j] for j in order]
            self._fingerprints = [self._fingerprints[j] for j in order]
