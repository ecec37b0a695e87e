"""Fitness of GP trees: Kendall tau of their scores against benchmark accuracies, memoised by expression.

A fitness is built from one or more tasks (a statistics table and the accuracies of its archs)
and called with a batch of trees. Each distinct expression runs once, ever: populations are full
of duplicates, and the memo answers them. Scores that are constant or hold a NaN or an infinity
get WORST_FITNESS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from deap import gp

from greenmachine.errors import GreenmachineError
from greenmachine.gp.evaluate import Evaluator, bind
from greenmachine.metrics import KendallTau
from greenmachine.registry import Registry
from greenmachine.statistics.table import StatisticsTable

WORST_FITNESS = -math.inf
CHUNK = 16  # programs whose scores are ranked together: larger chunks stop paying and cost memory


@dataclass(frozen=True)
class Task:
    """One thing a proxy is scored on.

    Attributes:
        table: statistics of the archs, N rows.
        target: their accuracies, float [N] in the table's row order.
    """

    table: StatisticsTable
    target: np.ndarray


class Fitness:
    """Memoised fitness of trees over tasks: tau per task, combined into one number by `combine`.

    Args:
        tasks: the tasks, at least one.
        combine: float64 [T, B] taus of B programs on T tasks -> float64 [B] (NaN wherever a program
            was invalid on a task must stay NaN).

    Attributes:
        memo: canonical expression (`str(tree)`) -> fitness of every tree evaluated so far.
        hits: fitness requests answered from the memo (including duplicates within one call).
        unique: programs run.
        seconds: time spent running programs and ranking their scores.
    """

    def __init__(self, tasks: Sequence[Task], combine: Callable[[np.ndarray], np.ndarray]):
        if not tasks:
            raise GreenmachineError("a fitness needs at least one (table, target) task")
        for task in tasks:
            if len(task.target) != len(task.table):
                raise GreenmachineError(f"a target has {len(task.target)} values for a table of "
                                        f"{len(task.table)} archs")
        self.evaluators = [Evaluator(bind(task.table)) for task in tasks]
        self.taus = [KendallTau(task.target) for task in tasks]
        self.combine = combine
        self.memo: dict[str, float] = {}
        self.hits = 0
        self.unique = 0
        self.seconds = 0.0

    def __call__(self, trees: Sequence[gp.PrimitiveTree]) -> list[float]:
        """Return the fitness of each tree (WORST_FITNESS for invalid scores), running only unseen expressions."""
        keys = [str(tree) for tree in trees]
        todo = {key: tree for key, tree in zip(keys, trees) if key not in self.memo}
        self.hits += len(trees) - len(todo)
        start = time.perf_counter()
        pending = list(todo.items())
        for first in range(0, len(pending), CHUNK):
            chunk = pending[first:first + CHUNK]
            for (key, _), value in zip(chunk, self._evaluate([tree for _, tree in chunk])):
                self.memo[key] = value
        self.unique += len(todo)
        self.seconds += time.perf_counter() - start
        return [self.memo[key] for key in keys]

    def _evaluate(self, trees: list[gp.PrimitiveTree]) -> list[float]:
        """Return the fitness of each tree: run on every task, its scores ranked together."""
        taus = np.stack([tau.batch(_checked(self._run(trees, evaluator)))
                         for tau, evaluator in zip(self.taus, self.evaluators)])
        combined = self.combine(taus)
        return [WORST_FITNESS if math.isnan(v) else float(v) for v in combined]

    @staticmethod
    def _run(trees: list[gp.PrimitiveTree], evaluator: Evaluator) -> np.ndarray:
        """Return the trees' scores on the evaluator's table, float64 [B, N]."""
        with torch.inference_mode():
            scores = torch.stack([evaluator(tree) for tree in trees])
        return scores.cpu().numpy().astype(np.float64)

    def scores(self, tree: gp.PrimitiveTree) -> list[np.ndarray]:
        """Return the tree's scores on each task, float64 [N_t] per task (not memoised)."""
        return [self._run([tree], evaluator)[0] for evaluator in self.evaluators]


def _checked(scores: np.ndarray) -> np.ndarray:
    """Return `scores` (float64 [B, N]) with rows that are constant or not all finite replaced by NaN."""
    valid = np.isfinite(scores).all(axis=1) & (scores.max(axis=1) > scores.min(axis=1))
    return np.where(valid[:, None], scores, np.nan)


FITNESSES: Registry[Callable[[Sequence[Task]], Fitness]] = Registry("fitness")


@FITNESSES.register("kendall")
def kendall_fitness(tasks: Sequence[Task]) -> Fitness:
    """Return the fitness `tau against the one target`; raises GreenmachineError for several tasks."""
    if len(tasks) != 1:
        raise GreenmachineError(f"fitness 'kendall' takes one (table, target) task, got {len(tasks)}; "
                                "use 'mean_kendall' or 'min_kendall' for several")
    return Fitness(tasks, lambda taus: taus[0])


@FITNESSES.register("mean_kendall")
def mean_kendall_fitness(tasks: Sequence[Task]) -> Fitness:
    """Return the fitness `mean of tau over the tasks` (invalid on any task = invalid)."""
    return Fitness(tasks, lambda taus: taus.mean(axis=0))


@FITNESSES.register("min_kendall")
def min_kendall_fitness(tasks: Sequence[Task]) -> Fitness:
    """Return the fitness `smallest tau over the tasks` (invalid on any task = invalid)."""
    return Fitness(tasks, lambda taus: taus.min(axis=0))
