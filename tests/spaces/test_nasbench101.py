"""Our NAS-Bench-101 space against its definition and NASLib's records: parsing, pruning, channels, params, FLOPs."""

from __future__ import annotations

import gzip
import json

import pytest
import torch
from torch import nn

from greenmachine.cost import count_flops, count_params
from greenmachine.paths import data_dir
from greenmachine.spaces.base import ArchIndexError
from greenmachine.spaces.cell import ArchStringError
from greenmachine.spaces.nasbench101 import (
    NasBench101,
    NasBench101Network,
    Nb101Spec,
    canonical_string,
    parse_spec,
    parse_tuple,
    spec_hash,
)

torch.set_num_threads(1)

SAMPLE = "nasbench101/zc_nasbench101_naslib_500.json.gz"
MAXPOOL, CONV1, CONV3 = 2, 3, 4


def arch(edges, ops=(CONV3,) * 5) -> str:
    """Return the arch string of a 7-vertex cell with these (source, target) edges and interior op indices."""
    matrix = [[0] * 7 for _ in range(7)]
    for u, v in edges:
        matrix[u][v] = 1
    return canonical_string(tuple(x for row in matrix for x in row) + (0, *ops, 1))


@pytest.fixture(scope="module")
def space():
    return NasBench101()


@pytest.fixture(scope="module")
def records():
    with gzip.open(data_dir() / SAMPLE, "rt") as f:
        return json.load(f)["nasbench101"]["cifar10"]


# ------------------------------------------------------------------ parsing and errors


def test_canonical_string_round_trips_and_spacing_is_free(space):
    key = space.arch_string(0)
    values = parse_tuple(key)
    assert len(values) == 56 and canonical_string(values) == key
    assert space.index_of(key.replace(" ", "")) == 0
    assert space.index_of("  " + key.replace(", ", " ,") + " ") == 0


def _with(key: str, position: int, value: int) -> str:
    values = list(parse_tuple(key))
    values[position] = value
    return canonical_string(tuple(values))


CHAIN = arch([(0, 1), (1, 6)])


@pytest.mark.parametrize(("text", "message"), [
    ("(0, 1, 1)", "it has 3 entries, expected 56"),
    (CHAIN[:-1] + ", 1)", "it has 57 entries, expected 56"),
    (CHAIN.replace("(", "[").replace(")", "]"), "parenthesised"),
    (CHAIN.replace("(0,", "(x,", 1), "entry 'x' is not a non-negative integer"),
    (CHAIN.replace("(0,", "(-1,", 1), "entry '-1' is not a non-negative integer"),
    (_with(CHAIN, 1, 2), "matrix entry (0, 1) is 2; matrix entries must be 0 or 1"),
    (_with(CHAIN, 7, 1), "matrix entry (1, 0) is 1 on or below the diagonal"),
    (_with(CHAIN, 8, 1), "matrix entry (1, 1) is 1 on or below the diagonal"),
    (_with(CHAIN, 51, 5), "op index 5 of vertex 2 is out of range; valid: 0 = input, 1 = output, 2 = maxpool3x3"),
    (_with(CHAIN, 49, 4), "the first op must be 0 (input) and the last 1 (output), got 4 and 1"),
    (_with(CHAIN, 55, 2), "the first op must be 0 (input) and the last 1 (output), got 0 and 2"),
    (_with(CHAIN, 52, 1), "vertex 3 has op 1 (output); interior vertices take 2 (maxpool3x3)"),
    (arch([(0, 1), (2, 6)]), "no path leads from the input (vertex 0) to the output (vertex 6)"),
    (arch([(u, v) for u in range(6) for v in range(u + 1, 7) if v - u <= 2]), "after pruning it has 11 edges"),
])
def test_malformed_archs_name_the_bad_value_and_what_is_valid(space, text, message):
    with pytest.raises(ArchStringError) as err:
        space.index_of(text)
    assert message in str(err.value)
    assert "56-tuple" in str(err.value)


def test_a_valid_cell_outside_the_sample_says_the_sample_has_no_record(space):
    with pytest.raises(ArchStringError, match="the benchmark sample has no record of .* holds only 500 archs"):
        space.index_of(arch([(0, 1), (0, 2), (1, 6), (2, 6)], (CONV1, CONV1, CONV3, MAXPOOL, MAXPOOL)))


def test_an_absent_matrix_of_a_sample_network_names_its_twin(space):
    # input -> output alone, with every interior vertex cut off: the same network as many sample keys
    with pytest.raises(ArchStringError, match=r"the same network .* is arch \d+"):
        space.index_of(arch([(0, 6), (1, 2)]))


def test_non_strings_are_rejected():
    with pytest.raises(ArchStringError, match="must be a string, not tuple"):
        parse_spec((0, 1))


# ------------------------------------------------------------------ pruning, channels, isomorphism


def test_pruning_drops_vertices_off_every_input_output_path_and_keeps_order():
    # 1: no input edge; 3: no output edge; 2 and 4 carry the path; 5: isolated
    spec = parse_spec(arch([(0, 2), (1, 2), (2, 3), (2, 4), (4, 6), (0, 6)], (CONV1, MAXPOOL, CONV3, CONV1, CONV3)))
    assert spec == Nb101Spec(
        matrix=((0, 1, 0, 1), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)),
        ops=("input", "maxpool3x3", "conv1x1-bn-relu", "output"),
    )
    assert spec.num_vertices == 4 and spec.num_edges == 4


def test_input_straight_to_output_prunes_to_two_vertices():
    spec = parse_spec(arch([(0, 6), (0, 3), (3, 4), (1, 6)]))
    assert spec.matrix == ((0, 1), (0, 0)) and spec.ops == ("input", "output")
    assert spec.vertex_channels(128, 256) == [128, 256]


def test_naslib_padding_of_a_small_spec_prunes_away():
    # NASLib writes a pruned n-vertex spec as 7 vertices: the output moved last, edgeless conv3x3 vertices between
    padded = arch([(0, 1), (1, 2), (2, 6)], (MAXPOOL, CONV1, CONV3, CONV3, CONV3))
    assert parse_spec(padded).ops == ("input", "maxpool3x3", "conv1x1-bn-relu", "output")


def test_output_feeders_split_the_channels_lower_vertices_first_and_others_take_the_max():
    # feeders 1, 3, 4 split 128 as 43, 43, 42; vertex 2 feeds 3 and 4, so it takes max(43, 42)
    spec = parse_spec(arch([(0, 1), (0, 2), (2, 3), (2, 4), (1, 6), (3, 6), (4, 6)]))
    assert spec.vertex_channels(128, 128) == [128, 43, 43, 43, 42, 128]
    assert spec.vertex_channels(64, 256) == [64, 86, 85, 85, 85, 256]


def test_isomorphic_cells_share_a_hash_and_other_cells_do_not():
    a = arch([(0, 1), (0, 2), (1, 3), (2, 3), (3, 6)], (CONV1, CONV3, MAXPOOL, CONV3, CONV3))
    b = arch([(0, 1), (0, 2), (1, 3), (2, 3), (3, 6)], (CONV3, CONV1, MAXPOOL, CONV3, CONV3))  # 1 and 2 swapped
    c = arch([(0, 1), (0, 2), (1, 3), (2, 3), (3, 6)], (CONV3, CONV3, MAXPOOL, CONV3, CONV3))
    # a chain laid out in a different vertex order, plus a dead vertex
    d = arch([(0, 4), (4, 5), (5, 6), (1, 2)], (CONV3, CONV3, CONV3, CONV1, MAXPOOL))
    e = arch([(0, 1), (1, 2), (2, 6)], (CONV1, MAXPOOL, CONV3, CONV3, CONV3))
    assert spec_hash(a) == spec_hash(b) == spec_hash(parse_spec(b))
    assert spec_hash(a) != spec_hash(c)
    assert spec_hash(d) == spec_hash(e)
    assert spec_hash(e) != spec_hash(arch([(0, 1), (1, 2), (2, 6)], (MAXPOOL, CONV1, CONV3, CONV3, CONV3)))


# ------------------------------------------------------------------ the network


def _conv_bn(c_in, c_out, k):
    return c_in * c_out * k * k + 2 * c_out


def test_parameter_count_by_hand_of_input_conv3x3_output():
    # cell: projection 1x1 c_in -> c_out, then a 3x3 conv at c_out; stem 3 -> 128; head 512 -> 10
    net = NasBench101Network(parse_spec(arch([(0, 1), (1, 6)])))
    widths = [(128, 128)] * 3 + [(128, 256)] + [(256, 256)] * 2 + [(256, 512)] + [(512, 512)] * 2
    cells = sum(_conv_bn(ci, co, 1) + _conv_bn(co, co, 3) for ci, co in widths)
    assert count_params(net) == _conv_bn(3, 128, 3) + cells + 512 * 10 + 10


def test_forward_gives_logits_truncates_wide_inputs_and_full_backward_hooks_work(space):
    net = space.build(1, "cifar10")  # vertex 1 (43 channels) feeds vertex 3 (42): a truncated edge
    assert net.cells[0].channels == [128, 43, 43, 42, 128]
    assert not any(getattr(m, "inplace", False) for m in net.modules())
    assert all(m.momentum == 0.1 and m.eps == 1e-5 and m.affine for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    seen = []
    for m in net.modules():
        if isinstance(m, (nn.ReLU, nn.MaxPool2d)):
            m.register_full_backward_hook(lambda mod, gi, go: seen.append(type(mod)))
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert nn.ReLU in seen and nn.MaxPool2d in seen
    assert len(net.cells) == 9 and net.forward_pre_gap(torch.randn(1, 3, 32, 32)).shape == (1, 512, 8, 8)


def test_isomorphic_sample_archs_can_differ_in_params_by_the_leftover_channel(space, records):
    # archs 17 and 107: the same cell, but the 3x3 conv sits at a 43- or a 42-channel vertex
    assert space.unique_key(space.arch_string(17)) == space.unique_key(space.arch_string(107))
    for i in (17, 107):
        assert count_params(space.build(i, "cifar10")) == round(records[space.arch_string(i)]["params"] * 1e6)


@pytest.mark.parametrize("index", [0, 1, 3, 90, 216, 371])
def test_a_few_sample_archs_have_naslibs_parameter_count(space, records, index):
    key = space.arch_string(index)
    assert count_params(space.build(index, "cifar10")) == round(records[key]["params"] * 1e6)


# ------------------------------------------------------------------ the space


def test_space_lists_the_sample_in_file_order(space, records):
    keys = list(records)
    assert space.size == len(keys) == 500
    assert [space.arch_string(i) for i in range(500)] == keys
    assert all(space.index_of(k) == i for i, k in enumerate(keys[:50]))
    assert space.resolve(keys[7]) == space.resolve(7) == space.resolve("7") == (7, keys[7])
    with pytest.raises(ArchIndexError, match="valid 0..499"):
        space.arch_string(500)


def naslib_flops(net: nn.Module) -> int:
    """Return FLOPs in the convention of NASLib's `flops` (tensorwatch's counter, one 32x32 image).

    Conv and linear MACs without bias terms, plus 2 per BatchNorm input element, 1 per ReLU input
    element and kernel-area per max-pool output element.
    """
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += module.weight[0].numel() * output[0].numel()
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, nn.BatchNorm2d):
            total += 2 * inputs[0].numel()
        elif isinstance(module, nn.ReLU):
            total += inputs[0].numel()
        elif isinstance(module, nn.MaxPool2d):
            total += output.numel() * module.kernel_size ** 2

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    for h in handles:
        h.remove()
    return total


def test_flops_of_input_to_output_in_both_conventions(space):
    net = space.build(3, "cifar10")  # input -> maxpool -> output: a projection and a max pool per cell
    assert naslib_flops(net) == 146_609_152  # NASLib's 146.609152
    assert count_flops(net, (3, 32, 32)) == 137_756_672 + 512 * 10 + 10  # conv and linear MACs alone


@pytest.mark.slow
def test_every_sample_arch_has_naslibs_params_and_flops(space, records):
    """All 500 archs: parameter count exactly, FLOPs exactly in NASLib's convention (about 2 minutes)."""
    mismatches = []
    for i, (key, record) in enumerate(records.items()):
        net = space.build(i, "cifar10")
        got = (count_params(net), naslib_flops(net))
        want = (round(record["params"] * 1e6), round(record["flops"] * 1e6))
        if got != want:
            mismatches.append((i, got, want))
    assert mismatches == []


def test_isomorphic_duplicates_in_the_sample(space):
    keys = [space.unique_key(space.arch_string(i)) for i in range(space.size)]
    assert len(set(keys)) == 292
