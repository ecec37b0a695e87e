"""Samples: deterministic per seed, disjoint, strata as configured, filters, the fixed holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greenmachine.benchmark import SampleProtocol, draw_sample, fixed_holdout, load_benchmark
from greenmachine.benchmark.sampling import candidate_archs, spread
from greenmachine.errors import GreenmachineError, UnknownNameError
from greenmachine.paths import data_dir
from greenmachine.spaces import get_space
from greenmachine.spaces.cell import Genotype
from greenmachine.spaces.isomorphism import unique_str


@pytest.fixture(scope="module")
def tss():
    return load_benchmark("nats_tss")


@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_same_seed_same_sample_other_seed_other_sample_and_disjoint(tss, strategy):
    a = draw_sample(tss, SampleProtocol(strategy=strategy, n=300, holdout_n=200, seed=1))
    b = draw_sample(tss, SampleProtocol(strategy=strategy, n=300, holdout_n=200, seed=1))
    c = draw_sample(tss, SampleProtocol(strategy=strategy, n=300, holdout_n=200, seed=2))
    np.testing.assert_array_equal(a.search, b.search)
    np.testing.assert_array_equal(a.holdout, b.holdout)
    assert not np.array_equal(a.search, c.search)
    assert len(a.search) == 300 and len(a.holdout) == 200
    assert not set(a.search) & set(a.holdout)


def test_width_strata_use_equal_accuracy_ranges_and_record_realised_counts(tss):
    sample = draw_sample(tss, SampleProtocol(n=100, holdout_n=0, bins=10, per_bin=10))
    acc = tss.accuracies("cifar10")
    edges = np.array(sample.edges)
    np.testing.assert_allclose(np.diff(edges), np.diff(edges)[0])
    assert edges[0] == acc.min() and edges[-1] == acc.max()
    counts = np.histogram(acc[sample.search], bins=edges)[0]
    assert list(counts) == list(sample.search_counts)
    assert max(sample.search_counts) == 10 and min(sample.search_counts) == 0  # empty bins stay empty
    assert "equal-width accuracy bins" in sample.describe()


def test_quantile_strata_have_equal_counts_and_n_is_spread(tss):
    sample = draw_sample(tss, SampleProtocol(n=200, holdout_n=100, binning="quantile", bins=4))
    assert sample.search_counts == (50, 50, 50, 50) and sample.holdout_counts == (25, 25, 25, 25)
    width = draw_sample(tss, SampleProtocol(n=1000, holdout_n=1000))
    assert len(width.search) == 1000 and len(width.holdout) == 1000  # small bins' shares go to the others


def test_spread_is_even_within_capacities():
    assert list(spread(10, np.array([1, 100, 100]))) == [1, 5, 4]
    assert list(spread(50, np.array([3, 4]))) == [3, 4]


def test_exclude_unique_and_drop_broken(tss):
    evaluation = fixed_holdout(tss, 3000)
    sample = draw_sample(tss, SampleProtocol(strategy="random", n=500, exclude=tuple(evaluation)))
    assert not set(sample.search) & set(evaluation) and not set(sample.holdout) & set(evaluation)
    space = get_space("nats_tss")
    broken = [i for i in range(space.size) if not Genotype.parse(space.arch_string(i)).is_connected()]
    assert len(broken) == 341
    assert np.all(tss.accuracies("cifar10")[broken] < 11)  # they train to chance
    assert len(candidate_archs(tss, SampleProtocol(drop_broken=True))) == 15625 - 341
    assert len(candidate_archs(tss, SampleProtocol(unique=True))) == 6466


def test_unique_str_reproduces_the_nats_isomorphism_column():
    wide = pd.read_csv(data_dir() / "nats_tss" / "accuracies_wide.csv.gz", usecols=["arch_str", "nats_unique_str"])
    assert [unique_str(s) for s in wide.arch_str] == list(wide.nats_unique_str)


def test_fixed_holdout_is_fixed_and_sorted(tss):
    a, b = fixed_holdout(tss, 3000), fixed_holdout(tss, 3000)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 3000 and np.all(np.diff(a) > 0)
    assert len(fixed_holdout(tss, 20000)) == 15625


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strategy": "greedy"}, "unknown sampling strategy 'greedy'; valid: random, stratified"),
    ({"binning": "log"}, "unknown binning 'log'; valid: quantile, width"),
    ({"bins": 0}, "sampling bins=0; valid: an integer >= 1"),
    ({"per_bin": 0}, "sampling per_bin=0"),
])
def test_bad_protocols_are_refused_with_the_valid_values(kwargs, message):
    with pytest.raises(GreenmachineError) as err:
        SampleProtocol(**kwargs)
    assert message in str(err.value)


def test_asking_for_more_than_exists_names_both_numbers(tss):
    with pytest.raises(GreenmachineError, match="cannot draw 20000 search archs: only 15625 are available"):
        draw_sample(tss, SampleProtocol(strategy="random", n=20000))
    with pytest.raises(UnknownNameError):
        draw_sample(tss, SampleProtocol(dataset="imagenet"))
