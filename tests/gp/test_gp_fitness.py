"""Fitness: Kendall tau of compiled programs, memoised, with invalid scores at the bottom."""

from __future__ import annotations

import random

import numpy as np
import pytest
from deap import gp

from greenmachine.errors import GreenmachineError, UnknownNameError
from greenmachine.gp.evaluate import bind, compile_program
from greenmachine.gp.fitness import CHUNK, FITNESSES, WORST_FITNESS, Task
from greenmachine.gp.pset import build_pset, generate, parse_tree
from greenmachine.metrics import kendall


@pytest.fixture
def table(make_table):
    return make_table(n=120)


@pytest.fixture
def pset(table):
    return build_pset(list(table.layer), list(table.scalar))


@pytest.fixture
def target(table):
    return np.random.default_rng(5).normal(size=len(table)) + table.scalar["s"].numpy()


def test_fitness_is_kendall_of_the_programs_scores(table, pset, target):
    fitness = FITNESSES["kendall"]([Task(table, target)])
    random.seed(4)
    trees = [gp.PrimitiveTree(generate(pset, 1, 5)) for _ in range(2 * CHUNK + 3)]  # several chunks
    inputs = bind(table)
    for tree, value in zip(trees, fitness(trees)):
        scores = compile_program(tree)(inputs).double().numpy()
        valid = np.isfinite(scores).all() and np.ptp(scores) > 0
        assert value == (kendall(scores, target) if valid else WORST_FITNESS)


def test_memo_answers_repeated_expressions(table, pset, target):
    fitness = FITNESSES["kendall"]([Task(table, target)])
    a, b = parse_tree("mean_layers(a)", pset), parse_tree("add_nn(s, t)", pset)
    first = fitness([a, b, a])
    assert (fitness.unique, fitness.hits) == (2, 1)
    assert fitness([b, parse_tree("mean_layers(a)", pset)]) == [first[1], first[0]]
    assert (fitness.unique, fitness.hits) == (2, 3)
    assert set(fitness.memo) == {"mean_layers(a)", "add_nn(s, t)"}


def test_constant_and_non_finite_scores_get_the_worst_fitness(table, pset, target, make_table):
    fitness = FITNESSES["kendall"]([Task(table, target)])
    constant = parse_tree("add_nn(0.5, 0.25)", pset)
    only_empty = parse_tree("first_layer(a)", pset)  # finite, varied: a real score
    assert fitness([constant])[0] == WORST_FITNESS
    assert fitness([only_empty])[0] > WORST_FITNESS
    broken = make_table(n=120)
    broken.scalar["s"][3] = float("nan")
    nan_fitness = FITNESSES["kendall"]([Task(broken, target)])
    assert nan_fitness([parse_tree("add_nn(s, t)", pset)])[0] == WORST_FITNESS


def test_multi_task_fitness_combines_taus(table, pset, target, make_table):
    other = make_table(n=80, seed=9)
    other_target = np.random.default_rng(6).normal(size=80)
    tree = parse_tree("add_nn(s, mean_layers(b))", pset)
    taus = [FITNESSES["kendall"]([Task(t, y)])([tree])[0] for t, y in ((table, target), (other, other_target))]
    tasks = [Task(table, target), Task(other, other_target)]
    assert FITNESSES["mean_kendall"](tasks)([tree])[0] == pytest.approx(np.mean(taus))
    assert FITNESSES["min_kendall"](tasks)([tree])[0] == min(taus)


def test_fitness_names_and_task_checks(table, target):
    with pytest.raises(UnknownNameError, match="unknown fitness 'tau'; valid: kendall, mean_kendall, min_kendall"):
        FITNESSES["tau"]
    with pytest.raises(GreenmachineError, match="takes one"):
        FITNESSES["kendall"]([Task(table, target), Task(table, target)])
    with pytest.raises(GreenmachineError, match="values for a table of"):
        FITNESSES["kendall"]([Task(table, target[:-1])])
