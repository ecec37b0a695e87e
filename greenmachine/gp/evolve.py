"""The search loop: evolve proxies over a statistics table, with callbacks and exact checkpoint/resume.

The loop computes and nothing else: progress bars, MLflow logging, reports and checkpoints are
callbacks that receive each completed generation's record and the search state, and may stop the
run. With `checkpoint=path`, a `gp.checkpoint.Checkpoint` callback writes every completed generation
to `path` (population, hall of fame, memo, log and random states); a run started with an existing
checkpoint continues from it and ends exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import operator
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from deap import gp

from greenmachine.errors import GreenmachineError
from greenmachine.gp.config import GPConfig
from greenmachine.gp.fitness import FITNESSES, Fitness, Task
from greenmachine.gp.hall_of_fame import HallOfFame, HallOfFameEntry
from greenmachine.gp.operators import CROSSOVERS, MUTATIONS, SELECTIONS
from greenmachine.gp.pareto import ParetoEntry, pareto_front
from greenmachine.gp.pset import Individual, build_pset, generate, is_statistic
from greenmachine.statistics.table import StatisticsTable


@dataclass(frozen=True)
class GenerationRecord:
    """What one completed generation looked like.

    Attributes:
        generation: 0 for the initial population, then 1, 2, ...
        best_fitness: the population's best fitness.
        median_fitness: its median fitness (-inf while most programs are invalid).
        mean_size: mean number of nodes per tree.
        distinct: number of distinct programs in the population.
        memo_hits: fitness requests of this generation answered by the memo.
        unique_evaluations: programs run in this generation.
        evaluations_per_second: unique evaluations per second spent evaluating (0 if none ran).
        best_expression: `str` of the population's best tree.
    """

    generation: int
    best_fitness: float
    median_fitness: float
    mean_size: float
    distinct: int
    memo_hits: int
    unique_evaluations: int
    evaluations_per_second: float
    best_expression: str


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes:
        hall_of_fame: the best distinct proxies, best first.
        log: one record per generation, generation 0 first.
        statistics: the statistics the search could use (its terminals).
        pareto: the best program of each size that beats every smaller one (size vs fitness front
            over every program evaluated), smallest first.
    """

    hall_of_fame: tuple[HallOfFameEntry, ...]
    log: tuple[GenerationRecord, ...]
    statistics: tuple[str, ...]
    pareto: tuple[ParetoEntry, ...] = ()


@dataclass
class SearchState:
    """The search as it stands after a completed generation: what callbacks see and a checkpoint holds.

    Callbacks must treat it as read-only.

    Attributes:
        config: the search's settings.
        data_key: hash of the data searched (see `_data_key`).
        generation: the last completed generation.
        population: its individuals, each with a valid fitness.
        hall_of_fame: the best distinct proxies so far.
        log: one record per completed generation.
        memo: expression -> fitness of every program evaluated so far.
        random_state, numpy_state: the random generators' states after the generation (a resumed run
            restores them).
    """

    config: GPConfig
    data_key: str
    generation: int
    population: list[Individual]
    hall_of_fame: HallOfFame
    log: list[GenerationRecord]
    memo: dict[str, float]
    random_state: object = None
    numpy_state: object = None


Callback = Callable[[GenerationRecord, SearchState], "bool | None"]
"""Called after each completed generation with its record and the state; returning True stops the run."""


def seed_everything(seed: int) -> None:
    """Seed the global `random` module (DEAP draws from it) and numpy's global generator with `seed`."""
    random.seed(seed)
    np.random.seed(seed)


def evolve(table: StatisticsTable | Sequence[StatisticsTable], target: np.ndarray | Sequence[np.ndarray],
           config: GPConfig, callbacks: Sequence[Callback] = (), checkpoint: str | Path | None = None) -> SearchResult:
    """Return the proxies found by genetic programming over the statistics of `table`.

    Args:
        table: the search archs' statistics; several tables (one per task: datasets, spaces) for the
            multi-task fitnesses.
        target: the archs' accuracies, float [N] in table row order; one per table.
        config: search settings; `config.seed` is the only source of randomness.
        callbacks: called with each generation's record and the search state, in order, after the
            checkpoint is written; one returning True stops the run after that generation. A resumed
            run calls them for the generations it runs. Random numbers they draw do not affect the search.
        checkpoint: file to resume from if it exists, and to write after every generation (by a
            `Checkpoint` callback that runs before `callbacks`).

    The search draws from the global `random` (DEAP's) and numpy generators; when it returns, they are
    as the caller left them. Raises GreenmachineError if a checkpoint was written by a search with
    other settings (other than `generations`) or other data, CorruptFileError (naming it) if it is
    empty or damaged.
    """
    tables = [table] if isinstance(table, StatisticsTable) else list(table)
    targets = [target] if isinstance(table, StatisticsTable) else list(target)
    if len(tables) != len(targets):
        raise GreenmachineError(f"got {len(tables)} tables but {len(targets)} targets")
    tasks = [Task(t, np.asarray(y, dtype=np.float64)) for t, y in zip(tables, targets)]
    pset = primitive_set(tables, config)
    statistics = tuple(pset.arguments)
    fitness = FITNESSES[config.fitness](tasks)
    data_key = _data_key(tasks, statistics)
    if checkpoint is not None:
        from greenmachine.gp.checkpoint import Checkpoint  # the loop itself reads and writes no file

        saver = Checkpoint(checkpoint)
        callbacks = [saver, *callbacks]
        state = saver.load(config, data_key)
    else:
        state = None

    with _callers_random_state():
        if state is not None:
            fitness.memo.update(state.memo)
            state.memo = fitness.memo
            random.setstate(state.random_state)
            np.random.set_state(state.numpy_state)
            stopped = False
        else:
            seed_everything(config.seed)
            population = initial_population(pset, config)
            state = SearchState(config, data_key, 0, population, HallOfFame(config.hall_of_fame), [], fitness.memo)
            stopped = _complete(0, state, fitness, callbacks)

        breed = _breeder(pset, config)
        for generation in range(state.generation + 1, config.generations + 1):
            if stopped:
                break
            state.population = breed(state.population)
            state.generation = generation
            stopped = _complete(generation, state, fitness, callbacks)
    return SearchResult(tuple(state.hall_of_fame.entries), tuple(state.log), statistics, pareto_front(fitness.memo))


@contextmanager
def _callers_random_state() -> Iterator[None]:
    """Run the block on the global `random` and numpy generators, then give them back to the caller as they were."""
    saved = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])


def initial_population(pset: gp.PrimitiveSetTyped, config: GPConfig) -> list[Individual]:
    """Return generation 0: each per-network statistic alone, then random trees up to `config.population`.

    A bare statistic is often a known proxy (nwot, synflow, ...); starting from all of them, the
    search never ends below the best of them on the search archs (elitism and the hall of fame keep
    it). If the population is smaller than the number of such statistics, the first ones are taken.
    """
    bare = [Individual([node]) for node in pset.terminals[pset.ret]
            if isinstance(node, gp.Terminal) and is_statistic(node)][:config.population]
    return bare + [Individual(generate(pset, config.init_min_height, config.init_max_height))
                   for _ in range(config.population - len(bare))]


def primitive_set(tables: Sequence[StatisticsTable], config: GPConfig) -> gp.PrimitiveSetTyped:
    """Return the primitive set over the statistics every table has, of the same kind in each."""
    layer = [n for n in tables[0].layer if all(n in t.layer for t in tables)]
    scalar = [n for n in tables[0].scalar if all(n in t.scalar for t in tables)]
    return build_pset(layer, scalar, config.primitives, config.terminals, config.constants)


def _breeder(pset: gp.PrimitiveSetTyped, config: GPConfig) -> Callable[[list[Individual]], list[Individual]]:
    """Return population -> next population: elites, then selected, crossed and mutated offspring."""
    limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=config.max_height)
    mate = limit(CROSSOVERS[config.crossover])
    mutations = [limit(functools.partial(MUTATIONS[name], pset=pset, config=config)) for name in config.mutations]
    select = SELECTIONS[config.selection]

    def breed(population: list[Individual]) -> list[Individual]:
        elite = sorted(population, key=lambda ind: (-ind.fitness.values[0], len(ind)))[:config.elitism]
        offspring = [copy.deepcopy(ind) for ind in select(population, len(population) - config.elitism, config)]
        for i in range(1, len(offspring), 2):
            if random.random() < config.crossover_rate:
                offspring[i - 1], offspring[i] = mate(offspring[i - 1], offspring[i])
                del offspring[i - 1].fitness.values, offspring[i].fitness.values
        for i in range(len(offspring)):
            if random.random() < config.mutation_rate:
                (offspring[i],) = random.choice(mutations)(offspring[i])
                del offspring[i].fitness.values
        return elite + offspring

    return breed


def _complete(generation: int, state: SearchState, fitness: Fitness, callbacks: Sequence[Callback]) -> bool:
    """Evaluate the population, update the hall of fame and log, call the callbacks; return whether one stops the run."""
    hits, unique, seconds = fitness.hits, fitness.unique, fitness.seconds
    pending = [ind for ind in state.population if not ind.fitness.valid]
    for ind, value in zip(pending, fitness(pending)):
        ind.fitness.values = (value,)
    values = [ind.fitness.values[0] for ind in state.population]
    state.hall_of_fame.update(state.population, values, fitness.scores)
    best = max(state.population, key=lambda ind: (ind.fitness.values[0], -len(ind)))
    ran, spent = fitness.unique - unique, fitness.seconds - seconds
    record = GenerationRecord(
        generation=generation,
        best_fitness=best.fitness.values[0],
        median_fitness=float(np.median(values)),
        mean_size=float(np.mean([len(ind) for ind in state.population])),
        distinct=len({str(ind) for ind in state.population}),
        memo_hits=fitness.hits - hits,
        unique_evaluations=ran,
        evaluations_per_second=ran / spent if spent > 0 else 0.0,
        best_expression=str(best),
    )
    state.log.append(record)
    state.random_state, state.numpy_state = random.getstate(), np.random.get_state()
    stop = False
    for callback in callbacks:
        stop = bool(callback(record, state)) or stop
        # a callback that draws random numbers must not steer the search (nor break exact resumption)
        random.setstate(state.random_state)
        np.random.set_state(state.numpy_state)
    return stop


def _data_key(tasks: list[Task], statistics: tuple[str, ...]) -> str:
    """Return a hash of everything the search reads: archs, targets, mask and the statistics it may use."""
    digest = hashlib.sha256()
    for task in tasks:
        digest.update(np.ascontiguousarray(task.table.arch_indices).tobytes())
        digest.update(task.target.tobytes())
        digest.update(task.table.mask.cpu().numpy().tobytes())
        for name in statistics:
            values = task.table.layer[name] if name in task.table.layer else task.table.scalar[name]
            digest.update(name.encode())
            digest.update(values.cpu().numpy().tobytes())
    return digest.hexdigest()
