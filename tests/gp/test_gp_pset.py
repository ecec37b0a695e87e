"""The primitive set: configuration by name, typing, tree generation, pickling of individuals."""

from __future__ import annotations

import copy
import pickle
import random

import pytest
from deap import gp

from greenmachine.errors import GreenmachineError, UnknownNameError
from greenmachine.gp.primitives import PRIMITIVES, PerLayer, PerNetwork
from greenmachine.gp.pset import Individual, build_pset, deap_name, generate, is_statistic, parse_tree


def _pset(**kwargs):
    return build_pset(["a", "b"], ["s"], **kwargs)


def test_unknown_primitive_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as error:
        _pset(primitives=["add", "safe_sqroot"])
    assert "safe_sqroot" in str(error.value) and "safe_sqrt" in str(error.value) and "mean_layers" in str(error.value)


def test_unknown_terminal_lists_the_statistics():
    with pytest.raises(UnknownNameError, match="unknown statistic 'z'; valid: a, b, s"):
        _pset(terminals=["a", "z"])


@pytest.mark.parametrize("bad", ["mask", "const", "add", "mean_layers", "add_ll", "lambda", "2x", "a-b"])
def test_statistic_names_that_cannot_be_program_variables_are_refused(bad):
    with pytest.raises(GreenmachineError, match="cannot be a program variable"):
        build_pset([bad], [])


def test_allow_lists_select_primitives_and_terminals():
    pset = _pset(primitives=["add", "mean_layers"], terminals=["a", "s"], constants=False)
    names = set(pset.mapping)
    assert names == {"a", "s", "add_ll", "add_ln", "add_nn", "mean_layers"}


def test_signatures_need_terminals_of_every_argument_type():
    pset = build_pset([], ["s"], constants=False)
    assert not pset.primitives[PerLayer] and not pset.terminals[PerLayer]
    assert all(PerLayer not in p.args for p in pset.primitives[PerNetwork])


def test_a_set_that_cannot_score_a_network_is_refused():
    with pytest.raises(GreenmachineError, match="cannot build a per-network score"):
        build_pset(["a"], [], primitives=["add", "normalise"], constants=False)


def test_generated_trees_are_typed_and_within_height():
    pset = _pset()
    random.seed(0)
    for method in ("full", "grow", "half"):
        for _ in range(200):
            tree = gp.PrimitiveTree(generate(pset, 1, 5, method))
            assert tree[0].ret is PerNetwork
            assert tree.height <= 6  # a leaf-level type without terminals may add one closing level
            assert str(parse_tree(str(tree), pset)) == str(tree)


def test_generation_without_per_network_terminals_ends_in_reductions():
    pset = build_pset(["a"], [], constants=False)
    random.seed(1)
    for _ in range(100):
        tree = gp.PrimitiveTree(generate(pset, 0, 3, "grow"))
        assert tree[0].ret is PerNetwork and all(is_statistic(n) for n in tree if isinstance(n, gp.Terminal))


def test_individuals_pickle_and_deepcopy_with_constants_and_fitness():
    pset = _pset()
    random.seed(2)
    trees = [Individual(generate(pset, 2, 4)) for _ in range(30)]
    assert any(isinstance(type(n), gp.MetaEphemeral) for t in trees for n in t)
    for t in trees:
        t.fitness.values = (0.5,)
        for clone in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
            assert type(clone) is Individual and str(clone) == str(t) and clone.fitness.values == (0.5,)
            assert clone.fitness is not t.fitness


def test_deap_names_are_unique():
    names = [deap_name(d, s) for _, d in PRIMITIVES.items() for s in d.signatures]
    assert len(names) == len(set(names))


def test_parse_tree_rebuilds_constants_as_ephemerals_and_reports_errors():
    pset = _pset()
    tree = parse_tree("add_nn(mean_layers(mul_ll(a, b)), -0.25)", pset)
    assert isinstance(type(tree[-1]), gp.MetaEphemeral) and tree[-1].value == -0.25
    assert str(tree) == "add_nn(mean_layers(mul_ll(a, b)), -0.25)"
    assert str(parse_tree("add_nn(s, 0.5)", build_pset([], ["s"], constants=False))) == "add_nn(s, 0.5)"
    with pytest.raises(UnknownNameError, match="unknown primitive or statistic 'zz'"):
        parse_tree("mean_layers(zz)", pset)
    with pytest.raises(GreenmachineError, match="needs PerLayer"):
        parse_tree("mean_layers(s)", pset)
    with pytest.raises(GreenmachineError, match="lacks arguments"):
        parse_tree("add_nn(s)", pset)
    with pytest.raises(GreenmachineError, match="more arguments"):
        parse_tree("s, s", pset)
