"""Checked settings, arch selections and table cleaning: every bad value named with what is valid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from greenmachine.archs import select_archs
from greenmachine.config import ConfigError, ProbeConfig, build, resolve_device
from greenmachine.data import probe_source
from greenmachine.errors import GreenmachineError, UnknownNameError
from greenmachine.gp import GPConfig
from greenmachine.presets import statistic_names
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.table import StatisticsTable, clean_columns


def test_build_checks_keys_and_types():
    assert build(ProbeConfig, {"batch_size": 32}, "probe") == ProbeConfig(batch_size=32)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'batch' in probe; valid: batch_size, resolution, seed, source, split"):
        build(ProbeConfig, {"batch": 32}, "probe")
    with pytest.raises(ConfigError, match="statistics.halves = 'two' is not a int"):
        build(StatisticsOptions, {"halves": "two"}, "statistics")
    gp = build(GPConfig, {"mutations": ["shrink"], "terminals": ["meco"]}, "gp")
    assert gp.mutations == ("shrink",) and gp.terminals == ("meco",)


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="valid: auto, cpu, cuda, cuda:N"):
        resolve_device("gpu0")


def test_arch_selections():
    assert len(select_archs("nats_tss", "all")) == 15625
    first = select_archs("nats_tss", 100)
    assert len(set(first)) == 100 and set(first) <= set(select_archs("nats_tss", 3000))
    assert np.array_equal(np.sort(select_archs("nats_tss", 3000)), select_archs("nats_tss", "holdout"))
    assert list(select_archs("nats_sss", "5:8")) == [5, 6, 7]
    assert list(select_archs("nats_sss", ["8:8:8:8:16", 3])) == [1, 3]
    for bad, message in ((0, "out of range"), ("9:3", "selects no arch"), ("some", "is not understood"),
                         (["8:8:8"], "expected 5 channel counts")):
        with pytest.raises(GreenmachineError, match=message):
            select_archs("nats_sss", bad)


def test_statistic_presets_and_names():
    assert set(statistic_names("lean")) < set(statistic_names("default")) < set(statistic_names("all"))
    assert "grasp" in statistic_names("all") and "grasp" not in statistic_names("default")
    assert statistic_names(["meco", "params"]) == ["meco", "params"]
    with pytest.raises(GreenmachineError, match="valid: default, lean, all"):
        statistic_names("everything")
    with pytest.raises(UnknownNameError, match="unknown statistic 'mecoo'"):
        statistic_names(["mecoo"])


def test_auto_probe_source_is_real_images_for_cifar10_and_noise_otherwise():
    assert probe_source("cifar10", "auto", None).endswith("cifar10_test_500_jpeg.npz")
    assert probe_source("ImageNet16-120", "auto", None) == "noise"
    assert probe_source("cifar100", "/my/cifar", None) == "/my/cifar"


def test_clean_columns_keeps_order_makes_infinities_finite_and_flags_nan():
    table = StatisticsTable(
        np.arange(4),
        {"v": torch.tensor([[1.0, 2.0], [float("inf"), 0.0], [3.0, 9.0], [0.0, float("nan")]])},
        torch.tensor([[True, True], [True, False], [True, True], [True, False]]),
        {"s": torch.tensor([float("-inf"), 1.0, 2.0, float("nan")])},
    )
    cleaned, bad = clean_columns(table)
    assert list(bad) == [3]  # a NaN in a padded position does not count, a NaN scalar does
    s = cleaned.scalar["s"][:3]
    assert torch.isfinite(s).all() and s[0] < s[1] < s[2]
    assert cleaned.layer["v"][1, 0] > 3.0 and cleaned.layer["v"][1, 1] == 0.0


def test_score_archs_measures_a_discovered_proxy_with_the_settings_it_was_found_with(tmp_path):
    from dataclasses import replace

    from greenmachine.proxies import PROXIES
    from greenmachine.scoring import score_archs
    from greenmachine.compute import Compute
    from greenmachine.data import make_probe

    compute = Compute(workers=1, progress=False, cache_dir=str(tmp_path))
    probe = make_probe("cifar10", ProbeConfig(source="noise", batch_size=4))
    archs = np.array([3, 40, 700, 9000])
    run_options, own = StatisticsOptions(zen_batch=2), StatisticsOptions(zen_batch=4)
    found = replace(PROXIES["zen"], name="found_zen", options=own)

    scored = score_archs([PROXIES["params"], found], "nats_tss", "cifar10", archs, run_options, probe, compute)
    as_found = score_archs([PROXIES["zen"]], "nats_tss", "cifar10", archs, own, probe, compute)
    with_run = score_archs([PROXIES["zen"]], "nats_tss", "cifar10", archs, run_options, probe, compute)

    np.testing.assert_array_equal(scored.archs, archs)
    assert scored.options == {"params": run_options, "found_zen": own}
    np.testing.assert_array_equal(scored.scores["found_zen"], as_found.scores["zen"])
    assert not np.array_equal(scored.scores["found_zen"], with_run.scores["zen"])
    assert scored.seconds > 0 and all(len(c.seconds) == len(archs) for c in scored.cost.values())
