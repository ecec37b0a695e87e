"""Our NAS-Bench-Macro networks against the benchmark's keys and records: canonical keys, params, FLOPs, errors."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest
import torch
from torch import nn

from greenmachine.cost import count_flops, count_params
from greenmachine.paths import data_dir
from greenmachine.spaces import ArchStringError, get_space
from greenmachine.spaces.nas_bench_macro import MacroNetwork, NasBenchMacro, canonical_key

torch.set_num_threads(1)

SPACE = get_space("nas_bench_macro")
ALL_KEYS = ["".join(d) for d in itertools.product("012", repeat=8)]

# (key, params, flops) from nas-bench-macro_cifar10.json; 10201002 is a duplicate of 10210020.
RECORDS = [
    ("00000000", 387882, 7713280),
    ("20000000", 409834, 17854976),
    ("01120212", 2185002, 61383168),
    ("10210020", 1408010, 41366016),
    ("10201002", 1408010, 41366016),
    ("22222222", 2932586, 105660928),
]


def _records() -> dict[str, dict]:
    with gzip.open(data_dir() / "nas_bench_macro" / "nas-bench-macro_cifar10.json.gz", "rt") as f:
        return json.load(f)


@pytest.mark.parametrize(("key", "canonical"), [
    ("00000000", "00000000"),
    ("22222222", "22222222"),
    ("01120212", "01120212"),
    ("00000001", "00000010"),  # the stage-3 identity moves behind the block
    ("10201002", "10210020"),
    ("20102001", "20120010"),  # stage-2 '001' and stage-3 '001' both reorder
    ("00000100", "00000100"),  # a stage's first identity is the downsampling conv: it never moves
    ("01002010", "01020010"),
])
def test_canonical_key_moves_non_first_identities_to_the_end_of_their_stage(key, canonical):
    assert canonical_key(key) == canonical
    assert canonical_key(canonical) == canonical


def test_the_space_is_registered_with_its_benchmark():
    assert isinstance(SPACE, NasBenchMacro)
    assert SPACE.dataset_names() == ["cifar10"] and SPACE.target().epochs == 50


def test_duplicate_keys_carry_copies_of_their_networks_record_and_the_benchmark_reads_the_means():
    records = _records()
    assert all(records[k] == records[canonical_key(k)] for k in ALL_KEYS)
    accuracy = SPACE.load_benchmark().values[("cifar10", "test", 50)]
    assert accuracy[SPACE.index_of("22222222")] == records["22222222"]["mean_acc"]
    assert accuracy.tolist() == [records[SPACE.arch_string(i)]["mean_acc"] for i in range(SPACE.size)]


def test_space_has_3969_distinct_networks_in_ascending_key_order():
    assert SPACE.size == 3969
    assert len({canonical_key(k) for k in ALL_KEYS}) == 3969
    strings = [SPACE.arch_string(i) for i in range(SPACE.size)]
    assert strings == sorted(strings)
    assert strings[0] == "00000000" and strings[-1] == "22222222"
    assert all(SPACE.index_of(s) == i for i, s in enumerate(strings))


def test_keys_of_lists_every_key_of_a_network_once_canonical_first():
    assert SPACE.keys_of(SPACE.index_of("10210020")) == ["10210020", "10201002", "10201020", "10210002"]
    assert SPACE.keys_of(SPACE.index_of("22222222")) == ["22222222"]
    groups = [SPACE.keys_of(i) for i in range(SPACE.size)]
    assert sorted(k for g in groups for k in g) == ALL_KEYS
    assert all(g[0] == SPACE.arch_string(i) and {SPACE.index_of(k) for k in g} == {i} for i, g in enumerate(groups))


def test_a_duplicate_key_resolves_to_its_canonical_network():
    index = SPACE.index_of("10201002")
    assert SPACE.arch_string(index) == "10210020"
    assert SPACE.resolve("10201002") == (index, "10210020")
    assert SPACE.resolve(index) == SPACE.resolve(str(index)) == (index, "10210020")


@pytest.mark.parametrize(("key", "params", "flops"), RECORDS)
def test_params_and_flops_match_the_records(key, params, flops):
    net = SPACE.build(key, "cifar10")
    assert count_params(net) == params
    # The benchmark counts the classifier as in * out MACs; count_flops adds its 10 bias additions.
    assert count_flops(net, (3, 32, 32)) == flops + 10


def test_all_identity_parameter_count_by_hand():
    def conv_bn(c_in, c_out, k):
        return c_in * c_out * k * k + 2 * c_out

    expected = (conv_bn(3, 32, 3) + conv_bn(32, 64, 1) + conv_bn(64, 128, 1) + conv_bn(128, 256, 1)
                + conv_bn(256, 1280, 1) + 1280 * 10 + 10)
    assert count_params(MacroNetwork("00000000")) == expected == 387882


def test_forward_gives_logits_and_no_activation_is_in_place():
    net = MacroNetwork("01120212", num_classes=100)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    activations = [m for m in net.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    assert activations and not any(m.inplace for m in activations)


def test_stages_halve_the_resolution_and_double_the_width():
    net = MacroNetwork("12012012")
    shapes = []
    x = net.stem(torch.zeros(1, 3, 32, 32))
    for layer in net.layers:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 16, 16), (64, 16, 16), (128, 8, 8), (128, 8, 8), (128, 8, 8),
                      (256, 4, 4), (256, 4, 4), (256, 4, 4)]


@pytest.mark.parametrize("bad", ["0123", "0112021", "011202120", "01120213", "0112021a", "", "O1120212"])
def test_malformed_keys_raise_naming_the_key(bad):
    for call in (canonical_key, SPACE.index_of, MacroNetwork):
        with pytest.raises(ArchStringError, match=f"{bad!r} is not a nas_bench_macro arch: expected 8 digits"):
            call(bad)


def test_a_non_string_key_raises():
    with pytest.raises(ArchStringError, match="12345678 is not a nas_bench_macro arch"):
        canonical_key(12345678)


@pytest.mark.slow
def test_every_key_has_the_recorded_parameter_count():
    """All 6,561 keys: each of the 3,969 networks is built once and checked against every key that names it."""
    records = _records()
    assert sorted(records) == ALL_KEYS
    mismatches = []
    # Shapes alone fix the count, so build on the meta device: no weight init, no memory.
    with torch.device("meta"):
        for index in range(SPACE.size):
            params = count_params(SPACE.build(index, "cifar10"))
            mismatches += [(k, params, records[k]["params"]) for k in SPACE.keys_of(index)
                           if records[k]["params"] != params]
    assert mismatches == []
