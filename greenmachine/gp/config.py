"""Settings of one GP search, checked when built."""

from __future__ import annotations

from dataclasses import dataclass, fields

from greenmachine.errors import GreenmachineError
from greenmachine.gp.fitness import FITNESSES
from greenmachine.gp.operators import CROSSOVERS, MUTATIONS, SELECTIONS
from greenmachine.gp.primitives import PRIMITIVES

PARSER_SAFE_HEIGHT = 90  # Python refuses expressions nested ~200 deep; exported proxies are expressions


@dataclass(frozen=True)
class GPConfig:
    """Settings of one GP search.

    Attributes:
        population: individuals per generation.
        generations: generations bred after the initial population (generation 0).
        selection: selection name: `tournament` (best of `tournament_size`, ties to the smaller
            tree) or `double_tournament` (DEAP's: a size tournament between fitness-tournament winners).
        tournament_size: fitness tournament size.
        parsimony_size: double tournament's size tournament, in [1, 2] (1 = no size pressure).
        crossover: crossover operator name (`one_point`, `leaf_biased`).
        crossover_rate: probability that a pair of offspring is crossed.
        mutation_rate: probability that an offspring is mutated (by one operator drawn from `mutations`).
        mutations: mutation operator names (`uniform`, `node_replacement`, `shrink`, `ephemeral`, `insert`).
        init_min_height, init_max_height: heights of the initial trees (ramped half-and-half).
        mutation_max_height: largest height of a subtree grown by uniform mutation.
        max_height: static height limit: an offspring above it is replaced by a parent (bloat control,
            and keeps exported expressions within Python's parser limit).
        elitism: best individuals copied unchanged into the next generation.
        hall_of_fame: distinct proxies kept.
        fitness: fitness name (`kendall`, `mean_kendall`, `min_kendall`).
        primitives: primitive names the search may use; None = all registered.
        terminals: statistic names the search may use; None = all in the table.
        constants: whether ephemeral constants (uniform in [-1, 1]) are terminals.
        seed: the one seed of the search.
    """

    population: int = 500
    generations: int = 40
    selection: str = "double_tournament"
    tournament_size: int = 3
    parsimony_size: float = 1.2
    crossover: str = "one_point"
    crossover_rate: float = 0.7
    mutation_rate: float = 0.3
    mutations: tuple[str, ...] = ("uniform", "node_replacement", "shrink", "ephemeral", "insert")
    init_min_height: int = 1
    init_max_height: int = 4
    mutation_max_height: int = 2
    max_height: int = 12
    elitism: int = 2
    hall_of_fame: int = 10
    fitness: str = "kendall"
    primitives: tuple[str, ...] | None = None
    terminals: tuple[str, ...] | None = None
    constants: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("mutations", "primitives", "terminals"):  # lists from YAML become tuples
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        checks = [
            (self.population >= 2, "population must be at least 2"),
            (self.generations >= 0, "generations must be at least 0"),
            (self.tournament_size >= 1, "tournament_size must be at least 1"),
            (1.0 <= self.parsimony_size <= 2.0, "parsimony_size must be in [1, 2]"),
            (0.0 <= self.crossover_rate <= 1.0, "crossover_rate must be in [0, 1]"),
            (0.0 <= self.mutation_rate <= 1.0, "mutation_rate must be in [0, 1]"),
            (len(self.mutations) > 0 or self.mutation_rate == 0, "mutations is empty but mutation_rate > 0"),
            (0 <= self.init_min_height <= self.init_max_height <= self.max_height,
             "heights must satisfy 0 <= init_min_height <= init_max_height <= max_height"),
            (self.mutation_max_height >= 0, "mutation_max_height must be at least 0"),
            (1 <= self.max_height <= PARSER_SAFE_HEIGHT, f"max_height must be in [1, {PARSER_SAFE_HEIGHT}]"),
            (0 <= self.elitism < self.population, "elitism must be in [0, population)"),
            (self.hall_of_fame >= 1, "hall_of_fame must be at least 1"),
            (self.terminals is None or len(self.terminals) > 0,
             "terminals is empty (every program would be a constant); valid: None (every statistic of the "
             "table) or a non-empty list of statistic names"),
            (self.primitives is None or len(self.primitives) > 0,
             "primitives is empty; valid: None (every registered primitive) or a non-empty list of primitive names"),
        ]
        for ok, message in checks:
            if not ok:
                raise GreenmachineError(f"invalid GP config: {message}")
        SELECTIONS[self.selection]  # each lookup raises UnknownNameError listing the valid names
        CROSSOVERS[self.crossover]
        FITNESSES[self.fitness]
        for name in self.mutations:
            MUTATIONS[name]
        for name in self.primitives or ():
            PRIMITIVES[name]

    def differences(self, other: GPConfig) -> list[str]:
        """Return the names of the fields whose values differ from `other`'s."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]
