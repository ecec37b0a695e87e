"""One scoring path: metadata where a pass is registered, each pass once per settings it reads, score_archs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

import greenmachine as gm
from greenmachine.compute import Compute
from greenmachine.config import ProbeConfig
from greenmachine.data import make_probe
from greenmachine.errors import GreenmachineError
from greenmachine.league import league
from greenmachine.proxies.base import PROXIES, baseline_proxy
from greenmachine.statistics.cache import init_seed
from greenmachine.statistics.core import PASSES, STATISTICS, probe_pass, tagged
from greenmachine.statistics.engine import default_statistics, lean_statistics, pass_runs

OPTIONS = gm.StatisticsOptions()


@pytest.fixture
def scratch_registries(monkeypatch):
    """Let a test register passes, statistics and proxies; the registries are as they were afterwards."""
    for registry in (STATISTICS, PASSES, PROXIES):
        monkeypatch.setattr(registry, "_items", dict(registry._items))


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def mean_width(net: nn.Module) -> float:
    """Return the mean output channels (features) of the Conv2d and Linear layers: an independent route."""
    widths = [m.weight.shape[0] for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return sum(widths) / len(widths)


def test_a_new_baseline_proxy_is_one_decorated_function(scratch_registries, tmp_path):
    @probe_pass("test_width", produces={"test_mean_width": ("scalar", 1, "mean output channels of the weighted layers",
                                                            "baseline")}, tags=("lean",))
    def width_pass(ctx):
        return {"test_mean_width": float(np.mean([m.weight.shape[0] for m in ctx.layer_modules(ctx.net)]))}

    # nothing else registered it: the proxy, its tags and its place in the lean set follow from the decorator
    assert PROXIES["test_mean_width"].statistics == ("test_mean_width",)
    assert "baseline" in PROXIES["test_mean_width"].tags and "test_mean_width" in lean_statistics()

    net = small_cnn()
    images = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    assert gm.score(net, images, ["test_mean_width"])["test_mean_width"] == pytest.approx(mean_width(net), rel=1e-6)

    # the evaluate path: cached statistics of benchmark archs, scores, correlations and a league row
    archs = np.array([3, 40, 700, 9000])
    compute = Compute(workers=1, progress=False, cache_dir=str(tmp_path))
    scored = gm.score_archs(["test_mean_width", "params"], "nats_tss", "cifar10", archs,
                            probe=ProbeConfig(source="noise", batch_size=4), compute=compute)
    probe = make_probe("cifar10", ProbeConfig(source="noise", batch_size=4))
    expected = []
    for arch in archs:
        torch.manual_seed(init_seed(probe.seed, int(arch)))
        expected.append(mean_width(gm.build_network("nats_tss", int(arch), "cifar10")))
    np.testing.assert_array_equal(scored.archs, archs)
    np.testing.assert_allclose(scored.scores["test_mean_width"], expected, rtol=1e-6)
    accuracy = np.array([70.0, 80.0, 90.0, 85.0])
    taus = scored.correlations(accuracy)
    assert set(taus) == {"test_mean_width", "params"} and taus["params"].n == 4
    rows = league(scored.scores, accuracy, "nats_tss", "cifar10", scored.cost)
    assert {r.proxy for r in rows} == {"test_mean_width", "params"}
    assert all(r.seconds_per_arch > 0 for r in rows)


def test_a_baseline_over_several_statistics_is_one_decorated_function(scratch_registries):
    @baseline_proxy("test_flops_per_param", ("flops", "params"))
    def flops_per_param(table):
        """FLOPs per parameter."""
        return table.scalar["flops"] / table.scalar["params"]

    net = small_cnn()
    images = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    scores = gm.score(net, images, ["test_flops_per_param", "flops", "params"])
    assert PROXIES["test_flops_per_param"].doc == "FLOPs per parameter."
    assert scores["test_flops_per_param"] == pytest.approx(scores["flops"] / scores["params"], rel=1e-6)


def test_tags_replace_the_lists_kept_beside_the_registry():
    assert {STATISTICS[s].pass_name for s in tagged("expensive")} == {"grasp", "swap"}
    assert {STATISTICS[s].pass_name for s in lean_statistics()} == {"structure", "meco", "synflow", "zen", "az_nas"}
    assert not set(default_statistics()) & set(tagged("expensive"))
    assert {"snip", "fisher", "grasp", "snip_layer"} <= set(tagged("labelled")) and "synflow" not in tagged("labelled")
    assert [p for p, proxy in PROXIES.items() if "unreported" in proxy.tags] == ["plain"]
    with pytest.raises(ValueError, match="unknown tag 'cheap'; valid: lean, expensive"):
        probe_pass("test_bad", produces={}, tags=("cheap",))
    with pytest.raises(ValueError, match="statistic 'x' has unknown tag 'baselin'"):
        probe_pass("test_bad", produces={"x": ("scalar", 1, "x", "baselin")})


def test_a_pass_runs_once_per_distinct_settings_it_reads():
    zen_small = replace(OPTIONS, zen_batch=4)
    runs = pass_runs([(("params", "zen"), OPTIONS), (("flops", "zen", "synflow"), zen_small), (("zen",), OPTIONS)])
    # structure reads no option: run once; zen reads zen_batch: run once per batch; synflow once
    assert runs == [(OPTIONS, ["structure", "zen"]), (zen_small, ["synflow", "zen"])]


def test_score_computes_each_pass_once_for_all_proxies(monkeypatch):
    calls: dict[str, int] = {}
    for name in ("main", "synflow", "structure", "zen"):
        spec = PASSES[name]

        def counted(ctx, run=spec.run, name=name):
            calls[name] = calls.get(name, 0) + 1
            return run(ctx)

        monkeypatch.setitem(PASSES._items, name, replace(spec, run=counted))
    # a discovered proxy carrying settings that differ only in what the structure pass does not read
    found = replace(PROXIES["params"], name="test_found_params", options=replace(OPTIONS, zen_batch=4))
    monkeypatch.setitem(PROXIES._items, found.name, found)
    net = small_cnn()
    batch = (torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(1)), torch.arange(8) % 10)
    scores = gm.score(net, batch, ["snip", "grad_norm", "fisher", "jacov", "synflow", "params", "zen",
                                   "test_found_params"])
    assert calls == {"main": 1, "synflow": 1, "structure": 1, "zen": 1}
    assert scores["test_found_params"] == scores["params"]
    alone = {name: gm.score(net, batch, [name])[name] for name in ("snip", "jacov", "zen")}
    assert alone == {name: scores[name] for name in alone}  # sharing a pass changes no value


def test_score_table_correlations_need_the_accuracy_of_the_scored_archs():
    table = gm.ScoreTable("nats_tss", "cifar10", None, np.array([1, 2, 3]), {"p": np.array([1.0, 2.0, 3.0])}, {}, {}, 0.0)
    assert table.correlations(np.array([1.0, 2.0, 3.0]))["p"].kendall == pytest.approx(1.0)
    with pytest.raises(GreenmachineError, match="accuracy has shape \\(5,\\) but 3 archs were scored"):
        table.correlations(np.zeros(5))
