"""The search loop: evolve proxies over a statistics table, with callbacks and exact checkpoint/resume.

The loop computes and nothing else: progress bars, MLflow logging and the like are callbacks that
receive one GenerationRecord per completed generation. With `checkpoint=path`, every completed
generation is written atomically to `path` (population, hall of fame, memo, log and random
states); a run started with an existing checkpoint continues from it and ends exactly as the
uninterrupted run would have.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import operator
import os
import pickle
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from deap import gp

from greenmachine.errors import CorruptFileError, GreenmachineError, describe
from greenmachine.gp.config import GPConfig
from greenmachine.gp.fitness import FITNESSES, Fitness, Task
from greenmachine.gp.hall_of_fame import HallOfFame, HallOfFameEntry
from greenmachine.gp.operators import CROSSOVERS, MUTATIONS, SELECTIONS
from greenmachine.gp.pset import Individual, build_pset, generate, is_statistic
from greenmachine.statistics.table import StatisticsTable

CHECKPOINT_VERSION = 1
CHECKPOINT_KEYS = {"version", "config", "data_key", "generation", "population", "hall_of_fame", "log", "memo",
                   "random_state", "numpy_state"}


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


Callback = Callable[[GenerationRecord], None]


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes:
        hall_of_fame: the best distinct proxies, best first.
        log: one record per generation, generation 0 first.
        statistics: the statistics the search could use (its terminals).
    """

    hall_of_fame: tuple[HallOfFameEntry, ...]
    log: tuple[GenerationRecord, ...]
    statistics: tuple[str, ...]


@dataclass
class _State:
    population: list[Individual]
    hall_of_fame: HallOfFame
    log: list[GenerationRecord]


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
        callbacks: called with each generation's record, after its checkpoint is written; a resumed
            run calls them for the generations it runs. Random numbers they draw do not affect the search.
        checkpoint: file to resume from if it exists, and to write after every generation.

    Raises GreenmachineError if a checkpoint was written by a search with other settings (other than
    `generations`) or other data, CorruptFileError (naming it) if it is empty or damaged.
    """
    tables = [table] if isinstance(table, StatisticsTable) else list(table)
    targets = [target] if isinstance(table, StatisticsTable) else list(target)
    if len(tables) != len(targets):
        raise GreenmachineError(f"got {len(tables)} tables but {len(targets)} targets")
    tasks = [Task(t, np.asarray(y, dtype=np.float64)) for t, y in zip(tables, targets)]
    pset = _pset(tables, config)
    statistics = tuple(pset.arguments)
    fitness = FITNESSES[config.fitness](tasks)
    data_key = _data_key(tasks, statistics)
    path = Path(checkpoint) if checkpoint is not None else None

    if path is not None and path.exists():
        state, generation = _load(path, config, data_key, fitness)
    else:
        seed_everything(config.seed)
        population = initial_population(pset, config)
        state, generation = _State(population, HallOfFame(config.hall_of_fame), []), 0
        _complete(0, state, fitness, path, config, data_key, callbacks)

    breed = _breeder(pset, config)
    for generation in range(generation + 1, config.generations + 1):
        state.population = breed(state.population)
        _complete(generation, state, fitness, path, config, data_key, callbacks)
    return SearchResult(tuple(state.hall_of_fame.entries), tuple(state.log), statistics)


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


def _pset(tables: list[StatisticsTable], config: GPConfig) -> gp.PrimitiveSetTyped:
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


def _complete(generation: int, state: _State, fitness: Fitness, path: Path | None, config: GPConfig,
              data_key: str, callbacks: Sequence[Callback]) -> None:
    """Evaluate the population, update the hall of fame and log, write the checkpoint, call the callbacks."""
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
    if path is not None:
        _save(path, generation, state, fitness, config, data_key)
    random_state, numpy_state = random.getstate(), np.random.get_state()
    for callback in callbacks:
        callback(record)
    # a callback that draws random numbers must not steer the search (nor break exact resumption)
    random.setstate(random_state)
    np.random.set_state(numpy_state)


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


def _save(path: Path, generation: int, state: _State, fitness: Fitness, config: GPConfig, data_key: str) -> None:
    """Write the checkpoint atomically: a temporary file in the same folder, then os.replace."""
    payload = {
        "version": CHECKPOINT_VERSION,
        "config": config,
        "data_key": data_key,
        "generation": generation,
        "population": state.population,
        "hall_of_fame": state.hall_of_fame,
        "log": state.log,
        "memo": fitness.memo,
        "random_state": random.getstate(),
        "numpy_state": np.random.get_state(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as f:
        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


def _load(path: Path, config: GPConfig, data_key: str, fitness: Fitness) -> tuple[_State, int]:
    """Return the state and generation saved in the checkpoint at `path`, restoring the memo and random states."""
    remedy = "delete it to start the search again from generation 0"
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    except (ImportError, AttributeError) as exc:  # whole, but it names code this greenmachine lacks
        raise GreenmachineError(f"checkpoint {path} was written by another greenmachine ({describe(exc)}); "
                                f"{remedy}, or resume with the greenmachine that wrote it") from exc
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError, pickle.UnpicklingError) as exc:
        raise CorruptFileError(path, describe(exc), remedy) from exc
    if not isinstance(payload, dict):
        raise CorruptFileError(path, f"it holds a {type(payload).__name__}, not a search checkpoint", remedy)
    if payload.get("version") != CHECKPOINT_VERSION:
        raise GreenmachineError(f"checkpoint {path} has format version {payload.get('version')}; "
                                f"this greenmachine reads version {CHECKPOINT_VERSION}")
    if not CHECKPOINT_KEYS <= set(payload):
        raise CorruptFileError(path, f"it lacks {', '.join(sorted(CHECKPOINT_KEYS - set(payload)))}", remedy)
    differences = [name for name in payload["config"].differences(config) if name != "generations"]
    if differences:
        raise GreenmachineError(f"checkpoint {path} was written by a search with other settings "
                                f"({', '.join(differences)}); delete it or use those settings")
    if payload["data_key"] != data_key:
        raise GreenmachineError(f"checkpoint {path} was written by a search over other statistics or targets; "
                                "delete it or search the same data")
    fitness.memo.update(payload["memo"])
    random.setstate(payload["random_state"])
    np.random.set_state(payload["numpy_state"])
    state = _State(payload["population"], payload["hall_of_fame"], payload["log"])
    return state, payload["generation"]
