"""Programs in float64: what the shipped and exported proxies fall back to where float32 saturates, keeping the order."""

from __future__ import annotations

import numpy as np
import torch

from greenmachine.gp.evaluate import NAMESPACE, bind
from greenmachine.gp.primitives import DOUBLE_MAX, FLOAT_MAX, PRIMITIVES, LayerMask, layer_sum
from greenmachine.proxies.expression import evaluate_expression
from greenmachine.statistics.table import StatisticsTable

from tests.gp.conftest import synthetic_table


def _huge_table() -> StatisticsTable:
    """Four archs whose scalar `s` is 1e10..4e10 and per-layer `a` spans up to 1e30: fourth powers pass 3.4e38."""
    mask = torch.tensor([[True, True, False], [True, True, True], [True, False, False], [True, True, True]])
    a = torch.tensor([[1e30, 2e29, 0.0], [3e30, 1e30, 5e29], [2e30, 0.0, 0.0], [4e30, 4e30, 4e30]])
    s = torch.tensor([1e10, 2e10, 3e10, 4e10])
    return StatisticsTable(np.arange(4), {"a": a}, mask, {"s": s})


def test_an_expression_past_float32s_range_keeps_its_order_and_ties_in_the_searchs_float32():
    table = _huge_table()
    expression = "mul(square(s), square(s))"  # 1e40 .. 2.6e42
    scores = evaluate_expression(expression, table)
    assert scores.dtype == torch.float64 and torch.all(scores[1:] > scores[:-1])
    assert float(scores[3]) == float(torch.tensor(4e10, dtype=torch.float32).double() ** 4)
    ns = {**{n: d.function for n, d in PRIMITIVES.items()}, **bind(table).values}
    assert torch.all(eval(expression, ns) == FLOAT_MAX)  # the search's float32: all tied at the saturation


def test_layer_reductions_in_float64_pass_float32s_range_and_ignore_padding():
    inputs = bind(_huge_table(), torch.float64)
    mask = inputs.mask
    a = inputs.values["a"]
    sums = PRIMITIVES["sum_layers"].function(PRIMITIVES["square"].function(a), mask)
    assert sums.dtype == torch.float64
    # the table holds float32 values: 1e30 is stored as 1.0000000150e30, so compare to 1e-7
    np.testing.assert_allclose(sums.numpy()[0], [1.04e60, 1.025e61, 4e60, 4.8e61], rtol=2e-7)
    np.testing.assert_allclose(PRIMITIVES["min_layers"].function(a, mask).numpy()[0], [2e29, 5e29, 2e30, 4e30], rtol=1e-7)
    np.testing.assert_allclose(PRIMITIVES["max_layers"].function(-a, mask).numpy()[0], [-2e29, -5e29, -2e30, -4e30],
                               rtol=1e-7)
    assert PRIMITIVES["std_layers"].function(a, mask)[0, 3] == 0.0


def test_float64_programs_saturate_at_the_float64_maximum():
    x = torch.tensor([[1e300, -1e300, 800.0]], dtype=torch.float64)
    assert PRIMITIVES["mul"].function(x, x).tolist() == [[DOUBLE_MAX, DOUBLE_MAX, 640000.0]]
    assert PRIMITIVES["safe_exp"].function(x).tolist() == [[DOUBLE_MAX, 0.0, DOUBLE_MAX]]
    terms = torch.tensor([[DOUBLE_MAX], [DOUBLE_MAX], [-1.0]], dtype=torch.float64)
    assert layer_sum(terms).tolist() == [[DOUBLE_MAX]]


def test_float64_sums_over_layers_ignore_the_order_of_the_layers():
    rng = np.random.default_rng(0)
    terms = torch.as_tensor(rng.normal(size=(40, 16)) * 10.0 ** rng.integers(-30, 30, size=(40, 16)))
    shuffled = terms[torch.as_tensor(rng.permutation(40))]
    assert torch.equal(layer_sum(terms), layer_sum(shuffled))
    assert layer_sum(terms).dtype == torch.float64


def test_a_proxy_expression_is_the_searchs_float32_evaluation_where_that_does_not_saturate():
    table = synthetic_table(n=64)
    expression = ("add(mean_layers(safe_log(a), mask), safe_div(max_layers(mul(b, c), mask), "
                  "add(s, depth_weighted_sum(safe_sqrt(d), mask))))")
    ns = {**{n: d.function for n, d in PRIMITIVES.items()}, **bind(table).values, "mask": LayerMask.of(table.mask)}
    single = eval(expression, ns).reshape(-1).double()
    assert torch.equal(evaluate_expression(expression, table), single)


def test_only_the_saturated_scores_are_replaced_by_their_float64_values():
    table = _huge_table()
    expression = "mul(square(safe_div(s, const(30.0))), square(s))"  # s^4 / 900: 1.1e37, 1.8e38, 9e38, 2.8e39
    single = eval(expression, {**NAMESPACE, **bind(table).values}).reshape(-1).double()
    scores = evaluate_expression(expression, table)
    saturated = single.abs() == FLOAT_MAX
    assert saturated.tolist() == [False, False, True, True]
    assert torch.equal(scores[~saturated], single[~saturated])
    assert torch.all(scores[saturated] > FLOAT_MAX) and scores[3] > scores[2]


def test_the_evaluator_remembers_float64_reductions_in_float64():
    """A tree bound in float64 gives the same value computed or answered from the Evaluator's memory."""
    from greenmachine.gp.evaluate import Evaluator
    from greenmachine.gp.pset import build_pset, parse_tree

    tree = parse_tree("mul_nn(sum_layers(square_l(a)), square_n(s))", build_pset(["a"], ["s"]))
    evaluator = Evaluator(bind(_huge_table(), torch.float64))
    computed, remembered = evaluator(tree), evaluator(tree)
    assert evaluator.reused == 1 and computed.dtype == remembered.dtype == torch.float64
    assert torch.equal(computed, remembered) and torch.all(computed > FLOAT_MAX)
