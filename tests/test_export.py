"""Exported proxies: the module's score on a network equals the GP's evaluation on its cached statistics."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import greenmachine as gm
from greenmachine.export import ExportedProxy, proxy_name, write_module
from greenmachine.gp import build_pset, compile_program, bind, terminals_of, to_math, to_python
from greenmachine.gp.primitives import FLOAT_MAX
from greenmachine.gp.pset import generate
from greenmachine.formula import readable
from greenmachine.proxies.expression import evaluate_expression, score_network
from greenmachine.proxies.loading import load_exported
from greenmachine.statistics import PASSES, STATISTICS, StatisticsOptions, compute_statistics
from greenmachine.statistics.table import stack_statistics
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
    # a standalone module raises its own inlined copy of GreenmachineError (a ValueError, as greenmachine's)
    with pytest.raises(ValueError, match="reads snip, which depend on labels; pass the images' labels too") as raised:
        labelled.score(net, x)
    assert type(raised.value).__name__ == "GreenmachineError"
    assert labelled.score(net, x, torch.arange(6) % 5) > 0


def test_proxy_names_are_identifiers():
    assert proxy_name("1st proxy!") == "p_1st_proxy_"
    assert proxy_name("class") == "p_class"


BLOCKED = textwrap.dedent("""
    import importlib.abc, importlib.util, json, sys

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "greenmachine" or name.startswith("greenmachine."):
                raise ImportError(f"greenmachine is blocked in this interpreter ({name})")

    sys.meta_path.insert(0, Blocker())
    try:
        import greenmachine
        raise SystemExit("greenmachine could be imported")
    except ImportError:
        pass
    import torch
    spec = importlib.util.spec_from_file_location("exported_proxy", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net, inputs, targets = torch.load(sys.argv[2], weights_only=False)
    print(json.dumps({"score": module.score(net, inputs, targets),
                      "greenmachine": sorted(m for m in sys.modules if m.split(".")[0] == "greenmachine")}))
""")


def small_cnn(seed: int = 0) -> torch.nn.Module:
    """Return a plain torch CNN (importable anywhere torch is), initialised from `seed`."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))


def score_without_greenmachine(module_path, net, inputs, targets, folder) -> float:
    """Return what the exported module at `module_path` scores in a fresh interpreter where `import greenmachine` fails."""
    batch = folder / "batch.pt"
    torch.save((net, inputs, targets), batch)
    env = {**os.environ, "PYTHONPATH": "", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-I", "-c", BLOCKED, str(module_path), str(batch)], capture_output=True,
                            text=True, timeout=600, env=env, cwd=folder)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["greenmachine"] == []
    return payload["score"]


def gp_evaluation(net, inputs, targets, expression, statistics, seed, options) -> float:
    """Return the GP's evaluation of `expression` on the network's statistics (a one-network table)."""
    from greenmachine.data.probe import Probe

    stats = compute_statistics(net, Probe(inputs, targets, "custom", "user", seed), statistics, options)
    return float(evaluate_expression(expression, stack_statistics([(0, stats.layer, stats.scalar)], list(statistics)))[0])


def test_an_exported_module_scores_without_greenmachine_as_greenmachine_does(tmp_path):
    """One statistic of every pass: every pass module is inlined, and the module matches the GP's evaluation."""
    chosen = [next(s for s in STATISTICS.names() if STATISTICS[s].pass_name == p) for p in PASSES.names()]
    terms = [f"safe_log(mean_layers({s}, mask))" if STATISTICS[s].kind == "layer" else f"safe_log({s})" for s in chosen]
    expression = terms[0]
    for term in terms[1:]:
        expression = f"add({expression}, {term})"
    options = StatisticsOptions(swap_repeats=2, az_batch=4, zen_batch=4)
    simplified, latex = readable(expression, simplify=False)
    path = write_module(ExportedProxy("every_pass", "sum of logs", expression, tuple(sorted(chosen)), 3,
                                      options.settings(), {"run": "test"}, {"search": 0.5}, simplified, latex), tmp_path)
    net, gen = small_cnn(), torch.Generator().manual_seed(1)
    inputs, targets = torch.randn(6, 3, 16, 16, generator=gen), torch.arange(6) % 10
    standalone = score_without_greenmachine(path, net, inputs, targets, tmp_path)
    assert np.isfinite(standalone)
    assert standalone == score_network(net, inputs, targets, expression, chosen, 3, options)
    assert standalone == gp_evaluation(net, inputs, targets, expression, chosen, 3, options)
    proxy = load_exported(path)  # greenmachine reads the standalone module as any exported proxy
    assert proxy.options == options and proxy.statistics == tuple(sorted(chosen))
    module = load_module(path)
    assert module.LATEX == latex and latex in " ".join(module.__doc__.split())
    assert not re.search(r"^\s*(from|import)\s+greenmachine\b", path.read_text(), re.MULTILINE)


def test_an_exported_module_inlines_only_the_passes_it_reads(tmp_path):
    from greenmachine.export import inlined_modules

    modules = inlined_modules(["params", "synflow"])
    assert modules[-1] == "greenmachine.standalone"
    assert "greenmachine.statistics.synflow" in modules and "greenmachine.statistics.structure" in modules
    assert not {"greenmachine.statistics.main_pass", "greenmachine.statistics.meco", "greenmachine.energy",
                "greenmachine.gp.evaluate", "greenmachine.statistics"} & set(modules)
    path = write_module(ExportedProxy("lean", "params * synflow", "mul(params, synflow)", ("params", "synflow"), 0,
                                      StatisticsOptions().settings()), tmp_path)
    net = small_cnn(2)
    inputs = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    standalone = score_without_greenmachine(path, net, inputs, None, tmp_path)
    assert standalone == score_network(net, inputs, None, "mul(params, synflow)", ("params", "synflow"), 0,
                                       StatisticsOptions())


def test_a_layer_reduction_raised_to_a_power_renders_in_latex():
    """sympy hands the exponent to a function's own LaTeX printer; a squared layer reduction printed (it once raised)."""
    from greenmachine.formula import readable, to_latex

    expression = "square(max_layers(layer_width, mask))"
    assert to_latex(expression) == r"\operatorname{max}_{l}\left(\mathrm{layer\_width}\right)^{2}"
    assert readable(expression)[1] == r"\operatorname{max}_{l}\left(\mathrm{layer\_width}\right)^{2}"
