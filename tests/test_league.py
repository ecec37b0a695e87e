"""Rankings by Kendall tau: a proxy whose tau is undefined (constant or non-finite scores) goes last, flagged."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from greenmachine.correlations import UNRANKED, Correlation, best_by_tau, correlation, format_tau, rank_by_tau
from greenmachine.league import league, ranking_bars, write_league
from greenmachine.search_record import ProxyRow, SearchRecord, TaskSummary, render_markdown
from greenmachine.statistics.cache import Cost

ACCURACY = np.arange(12, dtype=np.float64)
RNG = np.random.default_rng(0)
# dict order puts the undefined taus first: a sort by -tau left them there and scrambled the rest
SCORES = {
    "constant": np.ones(12),
    "all_nan": np.full(12, np.nan),
    "good": ACCURACY + RNG.normal(0, 2, 12),
    "all_inf": np.full(12, -np.inf),
    "perfect": ACCURACY.copy(),
    "reversed": -ACCURACY,
    "noisy": RNG.normal(0, 1, 12),
}
UNDEFINED = ["constant", "all_nan", "all_inf"]


def _cost() -> dict[str, Cost]:
    return {name: Cost(np.ones(12), np.full(12, 2.0), np.zeros(12, dtype=bool)) for name in SCORES}


def test_rank_by_tau_puts_undefined_taus_last_in_their_given_order():
    taus = [math.nan, 0.2, -0.5, math.nan, 0.9, 0.2]
    assert rank_by_tau(range(len(taus)), lambda i: taus[i]) == [4, 1, 5, 2, 0, 3]
    assert best_by_tau(range(len(taus)), lambda i: taus[i]) == 4
    assert best_by_tau([0, 3], lambda i: taus[i]) is None and best_by_tau([], float) is None
    assert format_tau(math.nan) == UNRANKED == "n/a (constant or non-finite scores)" and format_tau(0.12345) == "0.123"


def test_a_constant_proxy_has_no_tau_and_no_top10():
    c = correlation(np.ones(12), ACCURACY)
    assert math.isnan(c.kendall) and math.isnan(c.spearman) and math.isnan(c.top10)
    assert correlation(ACCURACY, ACCURACY).top10 == 1.0


def test_league_ranks_defined_taus_first_then_the_undefined_ones():
    rows = league(SCORES, ACCURACY, "nats_tss", "cifar10", _cost())
    names = [r.proxy for r in rows]
    taus = [r.kendall for r in rows]
    defined = [t for t in taus if not math.isnan(t)]
    assert names[:2] == ["perfect", "good"] and names[len(defined) - 1] == "reversed"
    assert defined == sorted(defined, reverse=True)
    assert names[len(defined):] == UNDEFINED


def test_league_files_keep_the_order_and_flag_undefined_taus(tmp_path):
    rows = league(SCORES, ACCURACY, "nats_tss", "cifar10", _cost())
    archs = np.arange(100, 112)
    files = write_league(rows, SCORES, ACCURACY, tmp_path, "test league", archs)
    text = files["json"].read_text()
    assert "NaN" not in text  # strict JSON
    table = json.loads(text)
    assert [r["proxy"] for r in table] == [r.proxy for r in rows]
    assert [r["rank"] for r in table] == [1, 2, 3, 4, None, None, None]
    assert all(r["kendall"] is None and r["note"] == UNRANKED for r in table[4:])
    assert all(isinstance(r["kendall"], float) and r["note"] is None for r in table[:4])
    lines = [line for line in files["markdown"].read_text().splitlines() if line.startswith("| ")][1:]
    assert [line.split(" | ")[1] for line in lines] == [r.proxy for r in rows]
    assert lines[0].startswith("| 1 | perfect | 1.000 |")
    assert all(line.startswith("| - |") and UNRANKED in line for line in lines[4:])
    labels, widths = ranking_bars(rows)  # barh draws bottom-up: the best bar on top, undefined ones at the bottom
    assert labels[::-1][:4] == [r.proxy for r in rows[:4]] and widths[-1] == 1.0
    assert labels[:3] == [f"{name} (n/a)" for name in reversed(UNDEFINED)] and widths[:3] == [0.0] * 3
    assert files["ranking"].is_file()
    with files["scores"].open() as f:  # each arch's scores beside the table, columns in the table's order
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["arch", "accuracy", *(r.proxy for r in rows)]
    assert [int(r["arch"]) for r in table] == archs.tolist()
    assert [float(r["accuracy"]) for r in table] == ACCURACY.tolist()
    for name, scores in SCORES.items():
        np.testing.assert_array_equal([float(r[name]) for r in table], scores)


def _correlation(tau: float) -> Correlation:
    return Correlation(tau, tau, 0.5 if not math.isnan(tau) else math.nan, 12)


def test_the_search_report_never_names_an_undefined_tau_the_best_baseline(tmp_path):
    sets = ("search", "holdout", "evaluation")
    task = TaskSummary("nats_tss/cifar10", "test", 200, {}, {s: 4 for s in sets}, 0, {}, "a test sample")
    taus = {"flat": math.nan, "weak": 0.1, "strong": 0.4, "inverse": -0.3, "zero": math.nan}
    rows = [ProxyRow("proxy_1", "found", "x", "x", 1, {task.name: {s: _correlation(0.2) for s in sets}})]
    rows += [ProxyRow(name, "baseline", name, name, 1, {task.name: {s: _correlation(tau) for s in sets}})
             for name, tau in taus.items()]
    spent = dict.fromkeys(("statistics_passes", "statistics_seconds", "program_evaluations", "memo_hits",
                           "search_seconds"), 0.0) | {"statistics_joules": math.nan}
    report = render_markdown(SearchRecord(tasks=(task,), proxies=tuple(rows), compute=spent))
    assert "strong (best baseline on search)" in report and "flat (best baseline" not in report
    assert ("All baselines on the evaluation set (Kendall tau):\n\nstrong 0.400, weak 0.100, inverse -0.300, "
            f"flat {UNRANKED}, zero {UNRANKED}") in report


@pytest.mark.parametrize("taus", [[math.nan, math.nan], []])
def test_the_search_report_has_no_best_baseline_when_none_ranks(tmp_path, taus):
    sets = ("search",)
    task = TaskSummary("t", "test", 1, {}, {"search": 4, "holdout": 0, "evaluation": 0}, 0, {}, "a test sample")
    rows = [ProxyRow(f"b{i}", "baseline", "b", "b", 1, {"t": {"search": _correlation(t)}}) for i, t in enumerate(taus)]
    spent = dict.fromkeys(("statistics_passes", "statistics_seconds", "program_evaluations", "memo_hits",
                           "search_seconds"), 0.0) | {"statistics_joules": math.nan}
    report = render_markdown(SearchRecord(tasks=(task,), proxies=tuple(rows), compute=spent))
    assert "best baseline" not in report


def test_scatter_plots_ranks_so_a_huge_range_stays_readable(tmp_path):
    from greenmachine.plots import percentile_ranks, plot_fitness, plot_scatter

    np.testing.assert_allclose(percentile_ranks(np.array([1e30, -5.0, 1e-30, 1e-30])), [100.0, 25.0, 62.5, 62.5])
    assert percentile_ranks(np.array([])).shape == (0,)
    scores = np.concatenate([10.0 ** np.linspace(-30, 30, 11), [np.nan]])  # synflow-like range, one failure
    assert plot_scatter(scores, ACCURACY, "huge range", tmp_path / "scatter.png").stat().st_size > 0
    log = [{"generation": g, "best_fitness": 0.1 * g, "median_fitness": math.nan if g == 0 else 0.05 * g}
           for g in range(3)]
    assert plot_fitness(log, tmp_path / "fitness.png", ("nwot", 0.15)).stat().st_size > 0
