"""Variation and selection operators of the search, by name (the names GPConfig uses)."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from deap import gp, tools

from greenmachine.gp.pset import Individual, generate
from greenmachine.registry import Registry

if TYPE_CHECKING:
    from greenmachine.gp.config import GPConfig

Mutation = Callable[[Individual, gp.PrimitiveSetTyped, "GPConfig"], tuple[Individual]]
Crossover = Callable[[Individual, Individual], tuple[Individual, Individual]]
Selection = Callable[[Sequence[Individual], int, "GPConfig"], list[Individual]]

MUTATIONS: Registry[Mutation] = Registry("mutation")
CROSSOVERS: Registry[Crossover] = Registry("crossover")
SELECTIONS: Registry[Selection] = Registry("selection")


@MUTATIONS.register("uniform")
def mutate_uniform(individual: Individual, pset: gp.PrimitiveSetTyped, config: GPConfig) -> tuple[Individual]:
    """Return (individual,) with a random subtree replaced by a grown one of height <= config.mutation_max_height."""
    grow = functools.partial(generate, min_height=0, max_height=config.mutation_max_height, method="grow")
    return gp.mutUniform(individual, grow, pset)


@MUTATIONS.register("node_replacement")
def mutate_node(individual: Individual, pset: gp.PrimitiveSetTyped, config: GPConfig) -> tuple[Individual]:
    """Return (individual,) with one node replaced by another of the same type and arity."""
    return gp.mutNodeReplacement(individual, pset)


@MUTATIONS.register("shrink")
def mutate_shrink(individual: Individual, pset: gp.PrimitiveSetTyped, config: GPConfig) -> tuple[Individual]:
    """Return (individual,) with a random branch replaced by one of its same-typed arguments."""
    return gp.mutShrink(individual)


@MUTATIONS.register("ephemeral")
def mutate_constant(individual: Individual, pset: gp.PrimitiveSetTyped, config: GPConfig) -> tuple[Individual]:
    """Return (individual,) with one ephemeral constant redrawn (unchanged if it has none)."""
    return gp.mutEphemeral(individual, "one")


@MUTATIONS.register("insert")
def mutate_insert(individual: Individual, pset: gp.PrimitiveSetTyped, config: GPConfig) -> tuple[Individual]:
    """Return (individual,) with a new primitive inserted above a random subtree."""
    return gp.mutInsert(individual, pset)


@CROSSOVERS.register("one_point")
def crossover_one_point(first: Individual, second: Individual) -> tuple[Individual, Individual]:
    """Return both trees after swapping a random subtree of one with a random same-typed subtree of the other.

    DEAP's cxOnePoint draws the type from a set of classes, whose order follows memory addresses:
    the same seed would cross differently in another process (breaking reproducibility and resumed
    runs). Here the types are taken in order of first appearance.
    """
    return _swap_subtrees(first, second, lambda node: True, lambda node: True)


@CROSSOVERS.register("leaf_biased")
def crossover_leaf_biased(first: Individual, second: Individual) -> tuple[Individual, Individual]:
    """Return both trees after a one-point crossover whose points are leaves with probability 0.1 (Koza's bias)."""
    leaf_first, leaf_second = random.random() < 0.1, random.random() < 0.1
    return _swap_subtrees(first, second, lambda node: (node.arity == 0) == leaf_first,
                          lambda node: (node.arity == 0) == leaf_second)


def _swap_subtrees(first: Individual, second: Individual, eligible_first: Callable[[object], bool],
                   eligible_second: Callable[[object], bool]) -> tuple[Individual, Individual]:
    """Swap a random eligible non-root subtree of `first` with a random eligible one of the same type in `second`."""
    if len(first) < 2 or len(second) < 2:
        return first, second
    points_first: dict[type, list[int]] = {}
    points_second: dict[type, list[int]] = {}
    for points, tree, eligible in ((points_first, first, eligible_first), (points_second, second, eligible_second)):
        for index in range(1, len(tree)):
            if eligible(tree[index]):
                points.setdefault(tree[index].ret, []).append(index)
    common = [t for t in points_first if t in points_second]
    if common:
        type_ = random.choice(common)
        span_first = first.searchSubtree(random.choice(points_first[type_]))
        span_second = second.searchSubtree(random.choice(points_second[type_]))
        first[span_first], second[span_second] = second[span_second], first[span_first]
    return first, second


@SELECTIONS.register("tournament")
def select_tournament(individuals: Sequence[Individual], k: int, config: GPConfig) -> list[Individual]:
    """Return k winners of tournaments of config.tournament_size; equal fitness goes to the smaller tree."""
    return [max((random.choice(individuals) for _ in range(config.tournament_size)),
                key=lambda ind: (ind.fitness.values[0], -len(ind)))
            for _ in range(k)]


@SELECTIONS.register("double_tournament")
def select_double_tournament(individuals: Sequence[Individual], k: int, config: GPConfig) -> list[Individual]:
    """Return k winners of DEAP's double tournament: size tournaments between fitness-tournament winners."""
    return tools.selDoubleTournament(individuals, k, fitness_size=config.tournament_size,
                                     parsimony_size=config.parsimony_size, fitness_first=True)
