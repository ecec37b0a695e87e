"""Energy: counters read right (fake RAPL files, a fake counter), estimates follow the stated model, labels everywhere."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import greenmachine as gm
from greenmachine import energy
from greenmachine.energy import (ESTIMATED, MEASURED, Energy, EnergyMeter, PowerModel, RaplCounter, energy_from_metrics,
                                 format_joules, total_energy)
from greenmachine.errors import GreenmachineError
from greenmachine.files import atomic_write_npz
from greenmachine.league import league, write_league
from greenmachine.measurement import compute_spent
from greenmachine.search_record import SearchRecord, TaskSummary, render_markdown
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.cache import ArchResult, StatisticsCache
from greenmachine.statistics.runner import CacheJob, fill_cache

MODEL = PowerModel("test CPU", cpu_watts=80.0, cpu_threads=4)  # 20 W per busy logical CPU, 10 W of RAM


class FakeCounter:
    """A counter that advances `step` joules at every read."""

    name = "fake"

    def __init__(self, step: float = 5.0):
        self.step, self.value = step, 0.0

    def read(self) -> float:
        self.value += self.step
        return self.value


def test_a_sum_is_measured_only_if_every_part_is():
    assert Energy(1.0, MEASURED) + Energy(2.0, MEASURED) == Energy(3.0, MEASURED)
    assert Energy(1.0, MEASURED) + Energy(2.0, ESTIMATED) == Energy(3.0, ESTIMATED)
    assert total_energy([Energy(1.0, MEASURED), Energy(4.0, ESTIMATED)]) == Energy(5.0, ESTIMATED)
    with pytest.raises(ValueError, match="valid: measured, estimated"):
        Energy(1.0, "guessed")


def test_labels_travel_with_the_numbers():
    e = Energy(1234.5, ESTIMATED)
    assert e.metrics("search") == {"search_joules_estimated": 1234.5}
    assert energy_from_metrics({"x": 1.0, **e.metrics("search")}, "search") == e
    assert energy_from_metrics({"statistics_joules": math.nan}, "statistics") is None  # unlabelled: not read
    assert str(e) == "1.23 kJ (estimated)" and str(Energy(2.0, MEASURED)) == "2 J (measured)"
    assert format_joules(3.456e6) == "3.46 MJ" and format_joules(math.nan) == "n/a"


@pytest.mark.parametrize("gigabytes, watts", [(0.5, 10.0), (2.0, 10.0), (16.0, 10.0), (24.0, 20.0), (64.0, 20.0),
                                              (100.0, 4 * 5 + 4 * 4.5), (3000.0, 4 * 5 + 4 * 4.5 + 8 * 4 + 8 * 3.5)])
def test_ram_power_follows_the_dimm_rule(gigabytes, watts):
    # DIMMs: <=2 GB 1, <=16 GB 2, <=64 GB 4, <=128 GB 8; 3000 GB: ceil(3000 / 128) = 24 DIMMs of 128 GB.
    # 5 W each, the 5th-8th at 90 %, 9th-16th at 80 %, 17th on at 70 %; at least 10 W on x86
    assert MODEL.ram_watts(gigabytes) == pytest.approx(watts)


def test_the_estimate_is_cpu_time_times_power_per_thread_plus_ram_and_gpu():
    assert MODEL.estimate(cpu_seconds=3.0, wall_seconds=2.0) == pytest.approx(3 * 20 + 2 * 10)
    gpu = PowerModel("test CPU", 80.0, 4, gpu="test GPU", gpu_watts=300.0)
    assert gpu.estimate(1.0, 2.0, gpu_seconds=2.0) == pytest.approx(20 + 2 * 10 + 2 * 300)
    assert "20 W per busy CPU" in MODEL.describe() and "GPU test GPU: 300 W" in gpu.describe()


def test_the_machine_model_takes_the_tdp_table_the_default_and_overrides(monkeypatch, tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 0\n"
                    "processor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 1\n")
    assert energy.cpu_model_name(info) == ("AMD EPYC 7763 64-Core Processor", 2)
    assert energy._lookup(energy.CPU_TDP_WATTS, "AMD EPYC 7763 64-Core Processor") == 280.0
    assert energy._lookup(energy.CPU_TDP_WATTS, "AMD EPYC") is None  # no model number: the default applies
    monkeypatch.setattr(energy, "cpu_model_name", lambda: ("Some CPU", 1))
    energy.power_model.cache_clear()
    try:
        assert energy.power_model().cpu_watts == energy.DEFAULT_CPU_TDP
        energy.power_model.cache_clear()
        monkeypatch.setenv(energy.CPU_WATTS_ENV, "120")
        assert energy.power_model().cpu_watts == 120.0
        energy.power_model.cache_clear()
        monkeypatch.setenv(energy.CPU_WATTS_ENV, "lots")
        with pytest.raises(GreenmachineError, match="GREENMACHINE_CPU_WATTS='lots'; valid: a positive number"):
            energy.power_model()
    finally:
        energy.power_model.cache_clear()


def _domain(root, name, label, microjoules, max_range=None):
    folder = root / name
    folder.mkdir()
    (folder / "name").write_text(label + "\n")
    (folder / "energy_uj").write_text(str(microjoules))
    if max_range is not None:
        (folder / "max_energy_range_uj").write_text(str(max_range))
    return folder / "energy_uj"


def test_rapl_sums_packages_and_dram_leaves_out_psys_and_cores_and_handles_wrap_around(tmp_path):
    package = _domain(tmp_path, "intel-rapl:0", "package-0", 1_000_000, max_range=10_000_000)
    core = _domain(tmp_path, "intel-rapl:0:0", "core", 0)
    dram = _domain(tmp_path, "intel-rapl:0:1", "dram", 500_000)
    psys = _domain(tmp_path, "intel-rapl:1", "psys", 0)
    counter = RaplCounter(tmp_path)
    assert counter.read() == 0.0
    package.write_text("3000000")  # +2 J
    dram.write_text("1500000")  # +1 J
    core.write_text("9000000")  # counted within the package already
    psys.write_text("9000000")  # overlaps the packages
    assert counter.read() == pytest.approx(3.0)
    package.write_text("500000")  # wrapped: 10 J range, 3 J -> 0.5 J is +7.5 J
    assert counter.read() == pytest.approx(10.5)


def test_no_rapl_means_no_counter(tmp_path):
    with pytest.raises(OSError, match="no readable RAPL package domain"):
        RaplCounter(tmp_path)
    assert EnergyMeter("cpu", model=MODEL).source in (MEASURED, ESTIMATED)


def test_a_meter_with_a_counter_measures_and_one_without_estimates_cpu_time():
    meter = EnergyMeter("cpu", counter=FakeCounter(5.0))
    assert meter.since(meter.mark()) == Energy(5.0, MEASURED)
    assert "fake counter" in meter.describe()
    estimating = EnergyMeter("cpu", counter=None, model=MODEL)  # whatever this machine has, estimate
    mark = estimating.mark()
    end = time.process_time() + 0.2
    while time.process_time() < end:  # burn 0.2 s of CPU time
        pass
    wall = time.perf_counter() - mark.wall
    e = estimating.since(mark)
    assert e.source == ESTIMATED
    assert 0.2 * 20 + wall * 10 <= e.joules <= (wall + 0.1) * (20 * torch.get_num_threads() + 10)


def test_statistics_passes_record_measured_or_estimated_joules(tiny_net_and_probe):
    net, probe = tiny_net_and_probe
    stats = gm.compute_statistics(net, probe, ["params", "synflow"], meter=EnergyMeter("cpu", counter=FakeCounter(5.0)))
    assert stats.joules == {"structure": 5.0, "synflow": 5.0} and stats.energy_source == MEASURED
    estimating = EnergyMeter("cpu", counter=None, model=MODEL)
    stats = gm.compute_statistics(net, probe, ["params", "synflow"], meter=estimating)
    assert stats.energy_source == ESTIMATED and all(j > 0 for j in stats.joules.values())
    assert gm.compute_statistics(net, probe, ["params"]).joules == {}


@pytest.fixture
def tiny_net_and_probe():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 3))
    gen = torch.Generator().manual_seed(1)
    return net, gm.Probe(torch.randn(4, 3, 8, 8, generator=gen), torch.tensor([0, 1, 2, 0]), "cifar10", "noise", 0)


def _small_cache(tmp_path):
    gen = torch.Generator().manual_seed(0)
    probe = gm.Probe(torch.randn(4, 3, 32, 32, generator=gen), torch.arange(4) % 10, "cifar10", "noise", 0)
    options = StatisticsOptions()
    return StatisticsCache(tmp_path, "nats_tss", "cifar10", probe, options), CacheJob("nats_tss", "cifar10", probe, options)


def test_cache_records_carry_the_label_from_a_fake_counter_to_the_league(tmp_path, monkeypatch):
    cache, job = _small_cache(tmp_path)
    monkeypatch.setattr(energy, "find_counter", lambda device: FakeCounter(5.0))
    fill_cache(cache, [3, 11], ["structure"], job, progress=False)
    records = cache.records("structure")
    assert [(records[a].joules, records[a].energy_source) for a in (3, 11)] == [(5.0, MEASURED)] * 2
    cost = cache.costs(["structure"], np.array([3, 11]))
    assert cost.energy() == Energy(10.0, MEASURED) and cost.energy_per_arch() == Energy(5.0, MEASURED)
    monkeypatch.setattr(energy, "find_counter", lambda device: None)
    fill_cache(cache, [284], ["structure"], job, progress=False)
    assert cache.records("structure")[284].energy_source == ESTIMATED and cache.records("structure")[284].joules > 0
    mixed = cache.costs(["structure"], np.array([3, 11, 284]))
    assert mixed.source == ESTIMATED and mixed.measured.tolist() == [True, True, False]
    accuracy = np.array([1.0, 2.0, 3.0])
    measured = league({"a": accuracy[:2]}, accuracy[:2], "nats_tss", "cifar10", {"a": cost})
    estimated = league({"b": accuracy}, accuracy, "nats_tss", "cifar10", {"b": mixed})
    assert (measured[0].joules_per_arch, measured[0].energy_source, estimated[0].energy_source) == (5.0, MEASURED, ESTIMATED)
    text = write_league(measured, {"a": accuracy[:2]}, accuracy[:2], tmp_path / "m", "t", np.array([3, 11]))["markdown"].read_text()
    assert "| 5 (measured) |" in text
    text = write_league(estimated, {"b": accuracy}, accuracy, tmp_path / "e", "t", np.array([3, 11, 284]))["markdown"].read_text()
    assert " (estimated) |" in text and "CodeCarbon's process model" in text


def test_records_written_before_energy_was_estimated_are_estimated_from_their_seconds(tmp_path):
    cache, _ = _small_cache(tmp_path)
    cache.write("structure", [ArchResult(3, scalar={}, seconds=2.0)])  # NaN joules
    arrays = {"arch": np.array([11]), "seconds": np.array([4.0]), "joules": np.array([np.nan]),
              "status": np.array(["ok"]), "depth": np.array([0], np.int32)}  # an older shard: no energy_source column
    atomic_write_npz(cache.pass_dir("structure") / "part-old.npz", arrays)
    cost = cache.costs(["structure"], np.array([3, 11]))
    model = energy.power_model("cpu")
    expected = [model.estimate(s, s) for s in (2.0, 4.0)]
    assert cost.joules.tolist() == pytest.approx(expected) and cost.source == ESTIMATED


def test_the_search_report_and_its_metrics_are_labelled(tmp_path):
    sets = ("search", "holdout", "evaluation")
    sample = SimpleNamespace(describe=lambda: "a test sample", to_dict=lambda: {})
    task = SimpleNamespace(name="t", metric="test", epochs=1, sample=sample, dropped={}, probe={},
                           rows={s: np.arange(0) for s in sets}, table=np.zeros(7), compute_seconds=3.0,
                           compute_joules=120.0, compute_energy_source=MEASURED)
    result = SimpleNamespace(log=[SimpleNamespace(unique_evaluations=10, memo_hits=2)])
    spent = compute_spent(result, [task], 1.5, Energy(30.0, ESTIMATED))
    assert spent["statistics_joules_measured"] == 120.0 and spent["search_joules_estimated"] == 30.0
    summary = TaskSummary(task.name, task.metric, task.epochs, {}, {s: 0 for s in sets}, 0, {}, "a test sample")
    report = render_markdown(SearchRecord(tasks=(summary,), compute=spent))
    assert "7 archs, 3 s of recorded pass time, 120 J (measured)" in report
    assert "1.5 s of search (30 J (estimated))" in report and "CodeCarbon's process model" in report


def test_the_cost_of_no_archs_is_empty_not_an_error(tmp_path):
    """score_archs asks for the cost of the archs it kept, which is none when every arch failed a statistic."""
    cache, _ = _small_cache(tmp_path)
    cost = cache.costs(["structure"], np.array([], dtype=np.int64))
    assert (len(cost.seconds), len(cost.joules), cost.measured.dtype) == (0, 0, np.dtype(bool))
