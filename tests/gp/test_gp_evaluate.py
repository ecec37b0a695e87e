"""Compiled programs: one tensor pass over the table, equal to their Python rendering and to a numpy reference."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from deap import gp

from greenmachine.errors import UnknownNameError
from greenmachine.gp import evaluate
from greenmachine.gp.evaluate import NAMESPACE, Evaluator, bind, compile_program, constant_value
from greenmachine.gp.pset import build_pset, generate, parse_tree
from greenmachine.gp.render import terminals_of, to_math, to_python


@pytest.fixture
def table(make_table):
    return make_table(n=64, empty=2)


@pytest.fixture
def pset(table):
    return build_pset(list(table.layer), list(table.scalar))


def test_to_python_evaluated_with_the_primitives_equals_the_compiled_program(table, pset):
    inputs = bind(table)
    random.seed(3)
    for _ in range(300):
        tree = gp.PrimitiveTree(generate(pset, 1, 6))
        compiled = compile_program(tree)(inputs)
        namespace = {**NAMESPACE, **inputs.values, "mask": inputs.mask}
        rendered = eval(to_python(tree), namespace)
        assert torch.equal(rendered.expand(1, len(table)).reshape(-1), compiled), to_python(tree)
        assert compiled.shape == (len(table),) and compiled.dtype == torch.float32


def test_a_program_matches_a_numpy_reference(table, pset):
    tree = parse_tree("add_nn(mean_layers(mul_ll(a, b)), safe_log_n(s))", pset)
    a, b, present = table.layer["a"].numpy(), table.layer["b"].numpy(), table.mask.numpy()
    depth = np.maximum(present.sum(1), 1)
    expected = (a * b * present).sum(1) / depth + np.log(np.abs(table.scalar["s"].numpy()) + 1e-12)
    assert np.allclose(compile_program(tree)(bind(table)).numpy(), expected, rtol=1e-5)


def test_constant_trees_broadcast_to_every_arch(table, pset):
    tree = parse_tree("safe_log_n(add_nn(0.5, 0.25))", pset)
    assert constant_value(tree) == pytest.approx(np.log(0.75))
    scores = compile_program(tree)(bind(table))
    assert scores.shape == (len(table),) and torch.all(scores == scores[0])
    assert constant_value(parse_tree("add_nn(s, 0.5)", pset)) is None


def test_renderings_and_terminals(pset):
    tree = parse_tree("sub_nn(depth_weighted_sum(safe_div_ln(a, s)), sigmoid_n(-0.5))", pset)
    assert to_python(tree) == "sub(depth_weighted_sum(safe_div(a, s), mask), sigmoid(const(-0.5)))"
    assert to_math(tree) == "sum_l(l/L * (a / s)) - sigmoid(-0.5)"
    assert terminals_of(tree) == {"a", "s"}


def test_a_program_on_a_table_without_its_statistic_names_it(table, pset, make_table):
    program = compile_program(parse_tree("mean_layers(a)", pset))
    other = make_table(layer_names=("x",))
    with pytest.raises(UnknownNameError, match="unknown statistic 'a'"):
        program(bind(other))


def test_programs_run_on_the_tables_device(table, pset):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tree = parse_tree("add_nn(max_layers(normalise(a)), t)", pset)
    on_device = compile_program(tree)(bind(table.to(device)))
    assert on_device.device.type == device
    assert torch.allclose(on_device.cpu(), compile_program(tree)(bind(table)), rtol=1e-5, atol=1e-6)


def test_an_evaluator_reuses_subtrees_and_gives_each_tree_its_own_scores_bit_for_bit(table, pset):
    inputs = bind(table)
    random.seed(5)
    trees = [gp.PrimitiveTree(generate(pset, 1, 6)) for _ in range(200)]
    trees += trees[:50]  # the same trees again: their reductions are remembered
    evaluator = Evaluator(inputs)
    for tree in trees:
        assert torch.equal(evaluator(tree), Evaluator(inputs, budget=0)(tree)), str(tree)
    assert evaluator.reused > 0 and len(evaluator._slot_of) <= evaluator.slots


def test_an_evaluator_stays_within_its_budget_and_forgets_when_full(table, pset, monkeypatch):
    inputs = bind(table)
    monkeypatch.setattr(evaluate, "MAX_SUBTREES", 30)
    random.seed(6)
    small = Evaluator(inputs, budget=3 * 4 * len(table))  # three per-network values
    for _ in range(100):
        tree = gp.PrimitiveTree(generate(pset, 1, 5))
        assert torch.equal(small(tree), compile_program(tree)(inputs))
        assert len(small._slot_of) <= small.slots == 3 and len(small._ids) <= 30 + len(tree)


def test_zero_and_negative_zero_constants_are_different_subtrees(table, pset):
    evaluator = Evaluator(bind(table))
    positive, negative = (evaluator(parse_tree(f"safe_div_nn(s, {c})", pset)) for c in ("0.0", "-0.0"))
    assert torch.equal(positive, -negative) and not torch.equal(positive, negative)


def test_an_unknown_statistic_leaves_the_evaluator_usable(table, pset, make_table):
    evaluator = Evaluator(bind(make_table(layer_names=("a",), scalar_names=("s",))))
    with pytest.raises(UnknownNameError, match="unknown statistic 'b'"):
        evaluator(parse_tree("add_nn(mean_layers(a), mean_layers(b))", pset))
    tree = parse_tree("add_nn(mean_layers(a), s)", pset)
    assert torch.equal(evaluator(tree), Evaluator(evaluator.inputs, budget=0)(tree))
