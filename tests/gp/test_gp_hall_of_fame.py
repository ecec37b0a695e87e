"""Hall of fame: wrapper stripping never changes a ranking; identical rankings merge into the smallest tree."""

from __future__ import annotations

import random

import numpy as np
import pytest
from deap import gp

from greenmachine.gp.fitness import FITNESSES, WORST_FITNESS, Task
from greenmachine.gp.hall_of_fame import HallOfFame, ranking, strip_wrappers
from greenmachine.gp.pset import build_pset, generate, parse_tree


@pytest.fixture
def table(make_table):
    return make_table(n=150)


@pytest.fixture
def pset(table):
    return build_pset(list(table.layer), list(table.scalar))


@pytest.fixture
def fitness(table):
    target = np.random.default_rng(7).normal(size=len(table)) + table.layer["a"].sum(1).numpy()
    return FITNESSES["kendall"]([Task(table, target)])


@pytest.mark.parametrize("expression,stripped", [
    ("sigmoid_n(mean_layers(a))", "mean_layers(a)"),
    ("add_nn(mean_layers(a), 0.3)", "mean_layers(a)"),
    ("add_nn(0.3, mean_layers(a))", "mean_layers(a)"),
    ("sub_nn(mean_layers(a), 0.3)", "mean_layers(a)"),
    ("mul_nn(mean_layers(a), 0.5)", "mean_layers(a)"),
    ("mul_nn(safe_log_n(0.5), s)", "mul_nn(safe_log_n(0.5), s)"),  # the constant is negative
    ("safe_div_nn(mean_layers(a), add_nn(0.5, 0.25))", "mean_layers(a)"),
    ("sigmoid_n(add_nn(mul_nn(0.5, s), 0.1))", "s"),
    ("mul_nn(mean_layers(a), -0.5)", "mul_nn(mean_layers(a), -0.5)"),
    ("sub_nn(0.3, mean_layers(a))", "sub_nn(0.3, mean_layers(a))"),
    ("safe_div_nn(0.5, mean_layers(a))", "safe_div_nn(0.5, mean_layers(a))"),
    ("add_nn(mean_layers(a), s)", "add_nn(mean_layers(a), s)"),
    ("safe_log_n(mean_layers(a))", "safe_log_n(mean_layers(a))"),  # log|x| is not increasing for x < 0
    ("safe_exp_n(mean_layers(a))", "safe_exp_n(mean_layers(a))"),  # saturates at FLOAT_MAX: not strictly increasing
    # sum_layers(a) often exceeds 17 here, where a float32 sigmoid is 1.0: stripping would break ties, so the
    # wrapper stays, and so does what it wraps (only outer wrappers go)
    ("sigmoid_n(mul_nn(sum_layers(a), add_nn(0.5, 0.5)))", "sigmoid_n(mul_nn(sum_layers(a), add_nn(0.5, 0.5)))"),
])
def test_strip_removes_only_rank_preserving_outer_wrappers(pset, fitness, expression, stripped):
    tree = parse_tree(expression, pset)
    result, ranks = strip_wrappers(tree, fitness.scores)
    assert str(result) == stripped
    assert all(np.array_equal(r, s) for r, s in zip(ranks, ranking(fitness.scores(tree))))


def test_stripping_never_changes_the_ranking(pset, fitness, make_table):
    held_out = FITNESSES["kendall"]([Task(make_table(n=150, seed=11), np.arange(150.0))])
    random.seed(8)
    wrappers = ["sigmoid_n({})", "add_nn({}, 0.7)", "add_nn(-0.2, {})", "mul_nn({}, 0.3)", "sub_nn({}, 0.9)",
                "safe_div_nn({}, 0.6)"]
    stripped_some = 0
    for _ in range(150):
        tree = gp.PrimitiveTree(generate(pset, 1, 4))
        expression = str(tree)
        for _ in range(random.randint(0, 3)):
            expression = random.choice(wrappers).format(expression)
        tree = parse_tree(expression, pset)
        scores = fitness.scores(tree)
        if not all(np.isfinite(s).all() and np.ptp(s) > 0 for s in scores):
            continue
        result, _ = strip_wrappers(tree, fitness.scores)
        stripped_some += len(result) < len(tree)
        assert all(np.array_equal(a, b) for a, b in zip(ranking(fitness.scores(result)), ranking(scores)))
        # on archs it never saw, a stripped proxy may break ties of a saturated wrapper, never swap an order
        for original, new in zip(held_out.scores(tree), held_out.scores(result)):
            order = np.argsort(new, kind="stable")
            assert np.all(np.diff(original[order]) >= 0) or not np.isfinite(original).all()
    assert stripped_some > 30


def test_trees_ranking_alike_merge_into_the_smallest(pset, fitness):
    big, small = parse_tree("neg_n(neg_n(mean_layers(a)))", pset), parse_tree("mean_layers(a)", pset)
    for order in ((big, small), (small, big)):
        hof = HallOfFame(5)
        hof.update(order, fitness(list(order)), fitness.scores)
        assert [e.expression for e in hof.entries] == ["mean_layers(a)"]
        assert hof.entries[0].size == 2 and hof.entries[0].fitness == fitness([small])[0]


def test_hall_of_fame_keeps_the_best_distinct_entries_in_order(pset, fitness):
    random.seed(9)
    trees = [gp.PrimitiveTree(generate(pset, 1, 5)) for _ in range(300)]
    values = fitness(trees)
    hof = HallOfFame(8)
    for first in range(0, len(trees), 50):  # offered generation by generation
        hof.update(trees[first:first + 50], values[first:first + 50], fitness.scores)
    entries = hof.entries
    assert len(entries) == 8
    assert [e.fitness for e in entries] == sorted((e.fitness for e in entries), reverse=True)
    assert entries[0].fitness == max(values)
    fingerprints = {tuple(np.concatenate(ranking(fitness.scores(e.tree)))) for e in entries}
    assert len(fingerprints) == 8
    for e in entries:
        assert fitness([e.tree])[0] == e.fitness and e.size == len(e.tree) and e.expression == str(e.tree)


def test_invalid_programs_never_enter(pset, fitness):
    hof = HallOfFame(3)
    constant = parse_tree("add_nn(0.1, 0.2)", pset)
    hof.update([constant], [WORST_FITNESS], fitness.scores)
    assert hof.entries == []
