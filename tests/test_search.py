"""A search's files read back (a damaged report.json is named with what to do), and its best-baseline fitness line."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from greenmachine.commands import COMMANDS
from greenmachine.errors import CorruptFileError
from greenmachine.report import Correlation
from greenmachine.search import ProxyRow, best_baseline_fitness
from greenmachine.statistics.table import StatisticsTable


@pytest.mark.parametrize("content", ["", '{"options": {}, "tasks": [{"name": "nats_tss/cifar10"', "[]", '{"proxies": []}'])
def test_export_names_a_damaged_report(tmp_path, content):
    report = tmp_path / "report.json"
    report.write_text(content)
    cfg = OmegaConf.create({"run": str(tmp_path), "out": None, "prefix": "", "top": 0, "proxy": None, "name": None})
    with pytest.raises(CorruptFileError, match=rf"{report} is corrupt \(.*\); rerun the search in its folder"):
        COMMANDS["export"].run(cfg)


def _task(name: str):
    table = StatisticsTable(np.arange(3), {}, torch.zeros(3, 0, dtype=torch.bool), {"synflow": torch.arange(3.0)})
    return SimpleNamespace(name=name, subset=lambda s: (table, np.arange(3.0)))


def test_the_best_baseline_line_combines_taus_as_the_search_fitness_does():
    def row(name, taus, kind="baseline"):
        return ProxyRow(name, kind, name, name, 1, {t: {"search": Correlation(tau, tau, 1.0, 3)} for t, tau in taus.items()})

    rows = [row("proxy_1", {"a": 0.9, "b": 0.9}, "found"), row("steady", {"a": 0.5, "b": 0.5}),
            row("peaky", {"a": 0.8, "b": 0.1}), row("flat", {"a": math.nan, "b": math.nan})]
    a, b = _task("a"), _task("b")
    assert best_baseline_fitness(rows, [a], "kendall") == ("peaky", 0.8)
    assert best_baseline_fitness(rows, [a, b], "mean_kendall") == ("steady", 0.5)
    assert best_baseline_fitness(rows, [a, b], "min_kendall") == ("steady", 0.5)
    assert best_baseline_fitness(rows[:1] + rows[3:], [a], "kendall") is None
