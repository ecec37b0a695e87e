"""The transfer protocol: searched and unseen targets, the pick made on searched holdouts only, tables marked."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir

from greenmachine.callbacks import MLflowLogger
from greenmachine.commands import statistic_names
from greenmachine.commands.search import settings_of
from greenmachine.config import ConfigError
from greenmachine.correlations import Correlation
from greenmachine.search_record import ProxyRow, SearchRecord, TaskSummary, render_markdown
from greenmachine.search_settings import SearchSettings
from greenmachine.statistics.core import tagged
from greenmachine.tasks import searched_tasks

CONF = Path(__file__).resolve().parents[1] / "conf"
SETS = ("search", "holdout", "evaluation")
SPENT = dict.fromkeys(("statistics_passes", "statistics_seconds", "program_evaluations", "memo_hits",
                       "search_seconds"), 0.0) | {"statistics_joules": math.nan}


def _task(name: str, searched: bool) -> TaskSummary:
    sizes = {"search": 4, "holdout": 4, "evaluation": 4} if searched else {"search": 0, "holdout": 0, "evaluation": 4}
    return TaskSummary(name, "test", 1, {}, sizes, 0, {}, f"a sample of {name}", searched)


def _record(rows: list[ProxyRow]) -> SearchRecord:
    return SearchRecord(tasks=(_task("a/x", True), _task("u/y", False)), proxies=tuple(rows), compute=SPENT)


def _row(name: str, kind: str, taus: dict[str, dict[str, float]]) -> ProxyRow:
    scores = {task: {s: Correlation(t, t, 0.5, 4) for s, t in sets.items()} for task, sets in taus.items()}
    return ProxyRow(name, kind, name, name, 1, scores)


def _rows() -> list[ProxyRow]:
    # proxy_1 is best on the search sets, proxy_2 on the searched holdouts, proxy_3 on the unseen target
    return [
        _row("proxy_1", "found", {"a/x": {"search": 0.9, "holdout": 0.5, "evaluation": 0.5}, "u/y": {"evaluation": 0.2}}),
        _row("proxy_2", "found", {"a/x": {"search": 0.8, "holdout": 0.7, "evaluation": 0.6}, "u/y": {"evaluation": 0.1}}),
        _row("proxy_3", "found", {"a/x": {"search": 0.7, "holdout": 0.6, "evaluation": 0.6}, "u/y": {"evaluation": 0.9}}),
        _row("params", "baseline", {"a/x": dict.fromkeys(SETS, 0.3), "u/y": {"evaluation": 0.4}}),
    ]


def test_the_pick_is_the_best_mean_tau_on_the_searched_holdouts_whatever_the_unseen_targets_say():
    assert _record(_rows()).pick.name == "proxy_2"
    assert _record([r for r in _rows() if r.kind == "baseline"]).pick is None


def test_a_kendall_search_evolves_on_its_first_target_and_a_multi_target_one_on_every_searched_one():
    tasks = [SimpleNamespace(name=n, searched=s) for n, s in (("a/x", True), ("b/x", True), ("u/y", False))]
    assert [t.name for t in searched_tasks(tasks, "kendall")] == ["a/x"]
    assert [t.name for t in searched_tasks(tasks, "mean_kendall")] == ["a/x", "b/x"]


def test_the_report_marks_every_target_and_reports_unseen_ones_on_their_evaluation_archs_only(tmp_path):
    record = _record(_rows())
    report = render_markdown(record)
    assert "## a/x (searched)" in report and "## u/y (unseen)" in report
    assert "Pick: `proxy_2`" in report
    assert "| proxy | a/x (searched) | u/y (unseen) |" in report
    assert "| proxy_2 (pick) | 0.700 | 0.100 |" in report  # searched: its holdout; unseen: its evaluation archs
    assert "| params | 0.300 | 0.400 |" in report
    assert "params (best baseline on evaluation)" in report  # an unseen target has no search set
    payload = json.loads(record.write(tmp_path / "report.json").read_text())
    assert payload["pick"] == "proxy_2"
    assert [t["searched"] for t in payload["tasks"]] == [True, False]
    read = SearchRecord.read(tmp_path / "report.json")
    assert read.pick.name == "proxy_2" and read.unseen == ["u/y"] and read.tasks == record.tasks


def test_mlflow_logs_the_picks_mean_tau_on_the_unseen_targets(tmp_path):
    logged: dict[str, float] = {}
    tracker = SimpleNamespace(resumed=False, metrics=lambda values, step=None: logged.update(values),
                              artifact=lambda *a: None, conclude=lambda headline: None)
    MLflowLogger(tracker).on_end(SimpleNamespace(record=_record(_rows()), files={}, out=tmp_path))
    assert logged["unseen_tau"] == pytest.approx(0.1)  # proxy_2's, not the best found proxy's (proxy_1: 0.2)


def test_the_transfer_experiment_searches_nats_and_leaves_the_other_spaces_unseen():
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("search", overrides=["experiment=transfer"])
    settings = settings_of(cfg)
    searched, unseen = settings.targets(), settings.unseen_targets()
    assert {t.space for t in searched} == {"nats_tss", "nats_sss"} and len(searched) == 6
    assert [f"{t.space}/{t.dataset}" for t in unseen] == [
        "nas_bench_macro/cifar10", "transnas_micro/class_scene", "transnas_micro/class_object", "nasbench101/cifar10"]
    assert cfg.gp.fitness == "mean_kendall" and cfg.sampling.strategy == "random"
    assert list(cfg.gp.terminals) == [n for n in statistic_names("lean") if n not in tagged("graph_count")]


def test_the_tss_transfer_experiment_searches_tss_only_and_leaves_every_other_target_unseen():
    """experiment=transfer_tss: the graph-count-free TSS search (measured, not shipped: docs/transfer.md)."""
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("search", overrides=["experiment=transfer_tss"])
    settings = settings_of(cfg)
    searched = [f"{t.space}/{t.dataset}" for t in settings.targets()]
    assert searched == ["nats_tss/cifar10", "nats_tss/cifar100", "nats_tss/ImageNet16-120"]
    assert len(settings.unseen_targets()) == 7 and not {t.space for t in settings.unseen_targets()} & {"nats_tss"}
    assert cfg.gp.fitness == "min_kendall" and cfg.evaluation_size == 500
    assert list(cfg.gp.terminals) == [n for n in statistic_names("lean") if n not in tagged("graph_count")]


def test_a_target_cannot_be_both_searched_and_unseen_and_unseen_targets_need_evaluation_archs():
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        both = compose("search", overrides=["also=[nats_tss/cifar100]", "unseen=[nats_tss/cifar100]"])
        none = compose("search", overrides=["evaluation_size=0", "unseen=[nasbench101/cifar10]"])
    with pytest.raises(ConfigError, match="unseen target nats_tss/cifar100 is also searched"):
        settings_of(both).unseen_targets()
    with pytest.raises(ConfigError, match="evaluation_size=0 leaves the unseen targets nothing to report on"):
        settings_of(none).unseen_targets()
    assert SearchSettings.from_dict(json.loads(json.dumps(settings_of(both).to_dict()))).unseen == ("nats_tss/cifar100",)
