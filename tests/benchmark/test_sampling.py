"""Samples: deterministic per seed, disjoint, strata as configured, filters, the fixed holdout."""

from __future__ import annotations

import json

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
from greenmachine.tasks import draw_task_sets


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


@pytest.fixture(scope="module")
def sss():
    return load_benchmark("nats_sss")


def test_stratified_holdout_is_drawn_per_bin_and_counts_are_recorded(tss):
    sample = draw_sample(tss, SampleProtocol(n=500, holdout_n=300, bins=5, binning="quantile", seed=3))
    edges = np.array(sample.edges)
    acc = tss.accuracies("cifar10")
    assert list(np.histogram(acc[sample.holdout], bins=edges)[0]) == list(sample.holdout_counts) == [60] * 5
    assert sum(sample.bin_sizes) == sample.candidates == 15625
    assert sample.search.dtype == np.int64 and sample.holdout.dtype == np.int64


def test_per_bin_takes_all_of_a_small_bin_and_records_what_it_got(tss):
    sample = draw_sample(tss, SampleProtocol(per_bin=400, holdout_n=50, bins=8, seed=5))
    sizes, counts = np.array(sample.bin_sizes), np.array(sample.search_counts)
    assert np.any(sizes < 400)  # the top and broken-cell bins are small on cifar10
    assert list(counts) == list(np.minimum(sizes, 400)) and len(sample.search) == counts.sum()
    assert np.all(np.array(sample.holdout_counts) <= sizes - counts) and len(sample.holdout) == 50
    assert "400 per bin" in sample.describe()


def test_archs_without_a_record_are_never_drawn():
    partial = load_benchmark("nats_tss", source="official", allow_partial=True)
    sample = draw_sample(partial, SampleProtocol(strategy="random", n=2, holdout_n=1, seed=0))
    assert sorted([*sample.search, *sample.holdout]) == [0, 11, 284] and sample.candidates == 3
    stratified = draw_sample(partial, SampleProtocol(n=3, holdout_n=0, bins=3))
    assert sorted(stratified.search) == [0, 11, 284]
    with pytest.raises(GreenmachineError, match="cannot draw 4 search archs: only 3 are available"):
        draw_sample(partial, SampleProtocol(n=4, holdout_n=0, bins=2))


def test_n_plus_holdout_beyond_the_candidates_is_refused_for_both_strategies(tss):
    with pytest.raises(GreenmachineError, match="cannot draw 20000 search archs: only 15625 are available"):
        draw_sample(tss, SampleProtocol(strategy="stratified", n=20000))
    with pytest.raises(GreenmachineError, match="cannot draw 1000 holdout archs: only 625 are available"):
        draw_sample(tss, SampleProtocol(strategy="stratified", n=15000, holdout_n=1000))
    with pytest.raises(GreenmachineError, match="cannot draw 1000 holdout archs: only 625 are available"):
        draw_sample(tss, SampleProtocol(strategy="random", n=15000, holdout_n=1000))


def test_unique_and_drop_broken_together_keep_connected_class_representatives(tss):
    protocol = SampleProtocol(strategy="random", n=100, holdout_n=0, unique=True, drop_broken=True)
    pool = candidate_archs(tss, protocol)
    space = get_space("nats_tss")
    strings = [space.arch_string(int(i)) for i in pool]
    assert all(Genotype.parse(s).is_connected() for s in strings)
    assert len({unique_str(s) for s in strings}) == len(pool) < 6466
    text = draw_sample(tss, protocol).describe()
    assert "one arch per isomorphism class" in text and "no broken cells" in text


def test_unique_and_drop_broken_are_no_ops_for_sss_and_say_so(sss):
    plain = SampleProtocol(strategy="random", n=10, holdout_n=0)
    filtered = SampleProtocol(strategy="random", n=10, holdout_n=0, unique=True, drop_broken=True)
    np.testing.assert_array_equal(candidate_archs(sss, filtered), np.arange(32768))
    a, b = draw_sample(sss, plain), draw_sample(sss, filtered)
    np.testing.assert_array_equal(a.search, b.search)
    assert "unique/drop_broken are no-ops for nats_sss" in b.describe() and not b.filters_apply()


def test_describe_and_to_dict_state_the_protocol_exactly(tss):
    evaluation = fixed_holdout(tss, 3000)
    sample = draw_sample(tss, SampleProtocol(n=100, holdout_n=20, bins=4, exclude=tuple(evaluation), seed=9))
    assert sample.protocol.epochs == 200 and sample.space == "nats_tss"
    text = sample.describe()
    for part in ("stratified nats_tss sample of 100 search and 20 holdout archs from 12625 candidates",
                 "cifar10 test accuracy at 200 epochs, seed 9", "3000 evaluation archs excluded (sha256 ",
                 "4 equal-width accuracy bins with edges [", "n=100 spread over the bins"):
        assert part in text
    record = json.loads(json.dumps(sample.to_dict()))
    assert record["protocol"]["exclude"] == 3000 and len(record["protocol"]["exclude_sha256"]) == 16
    assert record["protocol"]["epochs"] == 200 and record["search_counts"] == list(sample.search_counts)
    other = SampleProtocol(exclude=tuple(evaluation[1:]))
    assert other.exclude_digest() != sample.protocol.exclude_digest()


def test_exclude_is_normalised_and_checked():
    assert SampleProtocol(exclude=(5, 3, np.int64(5))).exclude == (3, 5)
    assert SampleProtocol(exclude=np.array([2, 1])).exclude == (1, 2)
    with pytest.raises(GreenmachineError, match="sampling exclude entry=-1; valid: an integer >= 0"):
        SampleProtocol(exclude=(-1,))


def test_exclude_outside_the_space_is_refused_at_draw_time(tss):
    with pytest.raises(GreenmachineError, match=r"exclude holds arch indices outside nats_tss \(\[15625\]...\); valid: 0..15624"):
        draw_sample(tss, SampleProtocol(exclude=(1, 15625)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strategy": "random", "per_bin": 5}, "sampling per_bin=5 applies only to strategy 'stratified', not 'random'"),
    ({"n": True}, "sampling n=True; valid: an integer >= 1"),
    ({"n": 0}, "sampling n=0; valid: an integer >= 1"),
    ({"holdout_n": -1}, "sampling holdout_n=-1; valid: an integer >= 0"),
    ({"n": 10.5}, "sampling n=10.5; valid: an integer >= 1"),
    ({"seed": -3}, "sampling seed=-3; valid: an integer >= 0"),
    ({"epochs": "200"}, "sampling epochs='200'; valid: an integer >= 1"),
])
def test_more_bad_protocols(kwargs, message):
    with pytest.raises(GreenmachineError) as err:
        SampleProtocol(**kwargs)
    assert message in str(err.value)


def test_bad_target_names_the_valid_values(sss):
    with pytest.raises(GreenmachineError, match="no 'valid' accuracy for cifar100 at 90 epochs in nats_sss; available"):
        draw_sample(sss, SampleProtocol(dataset="cifar100", metric="valid"))
    with pytest.raises(GreenmachineError, match="fixed holdout n=0; valid: an integer >= 1"):
        fixed_holdout(sss, 0)


def test_task_sets_keep_the_evaluation_holdout_out_of_the_sample(tss):
    protocol = SampleProtocol(n=400, holdout_n=300, seed=4)
    sample, evaluation = draw_task_sets(tss, "cifar100", "test", 200, protocol, 1000)
    np.testing.assert_array_equal(evaluation, fixed_holdout(tss, 1000, "cifar100"))
    assert not set(evaluation) & (set(sample.search) | set(sample.holdout))
    assert sample.protocol.dataset == "cifar100" and sample.protocol.exclude == tuple(evaluation)
    again, _ = draw_task_sets(tss, "cifar100", "test", 200, protocol, 1000)
    np.testing.assert_array_equal(sample.holdout, again.holdout)
    alone, none = draw_task_sets(tss, "cifar100", "test", 200, protocol, 0)
    assert none.size == 0 and none.dtype == np.int64 and not alone.protocol.exclude
