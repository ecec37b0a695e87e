"""Exported proxies: the module's score on a network equals the GP's evaluation on its cached statistics."""

from __future__ import annotations

import importlib.util
import random

import numpy as np
import pytest
import torch

import greenmachine as gm
from greenmachine.export import ExportedProxy, proxy_name, write_module
from greenmachine.gp import build_pset, compile_program, bind, terminals_of, to_math, to_python
from greenmachine.gp.primitives import FLOAT_MAX
from greenmachine.gp.pset import generate
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.cache import StatisticsCache, init_seed
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.runner import CacheJob, fill_cache

ARCHS = [11, 284, 6111]
NAMES = ["snip_layer", "corr_entropy", "meco_layer", "layer_width", "act_out_std", "nwot", "params", "synflow",
         "zico", "jacov", "path_convs_max"]


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    gen = torch.Generator().manual_seed(4)
    probe = gm.Probe(torch.randn(8, 3, 32, 32, generator=gen), torch.arange(8) % 10, "cifar10", "noise", 4)
    options = StatisticsOptions()
    cache = StatisticsCache(tmp_path_factory.mktemp("cache"), "nats_tss", "cifar10", probe, options)
    fill_cache(cache, ARCHS, passes_for(NAMES), CacheJob("nats_tss", "cifar10", probe, options), progress=False)
    table, _ = cache.load(NAMES, np.array(ARCHS))
    return probe, options, table


@pytest.mark.parametrize("seed", range(6))
def test_exported_score_equals_the_gp_evaluation_on_cached_statistics(cached, tmp_path, seed):
    probe, options, table = cached
    pset = build_pset([n for n in NAMES if n in table.layer], [n for n in NAMES if n in table.scalar])
    random.seed(seed)
    tree = generate(pset, 2, 5)
    expected = compile_program(tree)(bind(table)).numpy()
    in_float64 = compile_program(tree)(bind(table, torch.float64)).numpy()
    module = load_module(write_module(ExportedProxy(
        name=proxy_name(f"proxy {seed}"), formula=to_math(tree), expression=to_python(tree),
        statistics=tuple(sorted(terminals_of(tree))), probe_seed=probe.seed, options=options.settings(),
        origin={"run": "test"}, taus={"search": 0.5}), tmp_path))
    # equal up to float32 summation order (the table pads to its deepest network, one network does not);
    # where the search's float32 saturates, the export gives the float64 value
    for row, arch in enumerate(ARCHS):
        torch.manual_seed(init_seed(probe.seed, arch))
        net = gm.build_network("nats_tss", arch, "cifar10")
        got = module.score(net, probe.inputs, probe.targets)
        if abs(expected[row]) == FLOAT_MAX:  # the search's float32 saturated; the export keeps the value and its order
            assert got == pytest.approx(float(in_float64[row]), rel=1e-5)
            assert abs(got) >= FLOAT_MAX and np.sign(got) == np.sign(expected[row])
        else:
            assert got == pytest.approx(float(expected[row]), rel=1e-5, abs=1e-5) or (np.isnan(got) and np.isnan(expected[row]))
    assert to_math(tree) in module.__doc__.replace("\n    ", " ") or len(to_math(tree)) > 90


def test_an_exported_proxy_scores_any_cnn_and_asks_for_labels_only_when_needed(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3),
                              torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 5))
    x = torch.randn(6, 3, 16, 16)
    free = load_module(write_module(ExportedProxy("free", "sum_l meco_layer + params", "add(sum_layers(meco_layer, mask), params)",
                                                  ("meco_layer", "params"), 0, {}), tmp_path))
    assert np.isfinite(free.score(net, x))
    labelled = load_module(write_module(ExportedProxy("labelled", "snip", "snip", ("snip",), 0, {}), tmp_path))
    with pytest.raises(gm.errors.GreenmachineError, match="reads snip, which depend on labels; pass the images' labels too"):
        labelled.score(net, x)
    assert labelled.score(net, x, torch.arange(6) % 5) > 0


def test_proxy_names_are_identifiers():
    assert proxy_name("1st proxy!") == "p_1st_proxy_"
    assert proxy_name("class") == "p_class"
