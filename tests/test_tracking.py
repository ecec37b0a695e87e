"""MLflow tracking: the store is created under a lock, and a resumed search continues its own run."""

from __future__ import annotations

import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from omegaconf import OmegaConf

from greenmachine.callbacks import MLflowLogger
from greenmachine.errors import CorruptFileError
from greenmachine.gp import GenerationRecord
from greenmachine.tracking import (RUN_FILE, SWEEP_FILE, Headline, SweepCallback, ensure_store, headline_name,
                                   run_name, tracked_run)

EXPERIMENT = "greenmachine"


def test_a_new_store_is_created_by_one_process_at_a_time(tmp_path):
    """Two processes migrating a new SQLite store at once lose a run; creation waits for `<store>.lock`."""
    import mlflow  # noqa: F401  (imported before the clock starts: it takes seconds)

    database = tmp_path / "mlruns.db"
    lock = os.open(tmp_path / "mlruns.db.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another process is creating the store
    creator = threading.Thread(target=ensure_store, args=(f"sqlite:///{database}", EXPERIMENT))
    creator.start()
    time.sleep(3)
    created_meanwhile = database.exists()
    os.close(lock)
    creator.join(timeout=120)
    assert not created_meanwhile
    assert mlflow.MlflowClient(f"sqlite:///{database}").get_experiment_by_name(EXPERIMENT) is not None


KILLED_SEARCH = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from greenmachine.tracking import tracked_run
    with tracked_run(True, sys.argv[1], "greenmachine", "search t", {"gp": {"generations": 3}}, {"space": "t"},
                     record=Path(sys.argv[2])) as tracker:
        for generation in (0, 1):
            tracker.metrics({"best_tau": generation / 10}, step=generation)
        os.kill(os.getpid(), signal.SIGKILL)  # killed while generation 2 runs
""")


def _record(generation: int) -> GenerationRecord:
    return GenerationRecord(generation, generation / 10, 0.0, 3.0, 10, 0, 10, 100.0, "x")


def test_a_resumed_search_continues_its_own_run_with_the_whole_fitness_curve(tmp_path):
    import mlflow

    uri, record = f"sqlite:///{tmp_path / 'mlruns.db'}", tmp_path / "run" / RUN_FILE
    killed = subprocess.run([sys.executable, "-c", KILLED_SEARCH, uri, str(record)], timeout=300)
    assert killed.returncode == -signal.SIGKILL
    client = mlflow.MlflowClient(uri)
    run_id = json.loads(record.read_text())["run_id"]
    assert client.get_run(run_id).info.status == "RUNNING"  # what a kill leaves

    # resumed with two more generations; generation 2 was checkpointed but not logged before the kill
    with tracked_run(True, uri, EXPERIMENT, "search t", {"gp": {"generations": 5}}, {"space": "t"},
                     record=record) as tracker:
        assert tracker.resumed and tracker.run_id == run_id
        logger = MLflowLogger(tracker)
        for generation in (3, 4, 5):
            logger(_record(generation), None)
        for generation in range(6):  # at the end of the search the whole log is passed once
            logger.log(_record(generation))
    runs = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert [r.info.run_id for r in runs] == [run_id]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "best_tau"))
    assert history == [(g, g / 10) for g in range(6)]  # one point per generation, none twice
    assert run.data.params["gp.generations"] == "3" and run.data.tags["changed_params"] == "gp.generations: 3 -> 5"
    assert run.data.tags["resumed_at_generation"] == "3"


def test_a_new_run_is_started_for_another_store_or_a_search_started_afresh(tmp_path, capsys):
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    record = tmp_path / RUN_FILE
    with tracked_run(True, first, EXPERIMENT, "search", {}, {}, record=record) as tracker:
        old = tracker.run_id
    with tracked_run(True, second, EXPERIMENT, "search", {}, {}, record=record) as tracker:
        assert not tracker.resumed and tracker.run_id != old
    assert "logging to" in capsys.readouterr().err
    assert json.loads(record.read_text()) == {"run_id": tracker.run_id, "tracking_uri": second}
    old = tracker.run_id
    # its checkpoint deleted, the search starts again from generation 0: a new curve, a new run
    with tracked_run(True, second, EXPERIMENT, "search", {}, {}, record=record, resume=False) as tracker:
        assert not tracker.resumed and tracker.run_id != old
    assert json.loads(record.read_text())["run_id"] == tracker.run_id


@pytest.mark.parametrize("content", ["", '{"run_id": "abc"'])
def test_a_corrupt_run_record_is_named(tmp_path, content):
    record = tmp_path / RUN_FILE
    record.write_text(content)
    with pytest.raises(CorruptFileError, match=rf"{record} is corrupt .*delete it to log this search as a new MLflow run"):
        with tracked_run(True, f"sqlite:///{tmp_path / 'mlruns.db'}", EXPERIMENT, "search", {}, {}, record=record):
            pass


def test_run_names_say_what_the_run_is_and_end_with_its_headline():
    name = run_name("search", "nats_tss/cifar10", "stratified n=1000", "pop 500", "", None, "seed 0")
    assert name == "search nats_tss/cifar10 · stratified n=1000 · pop 500 · seed 0"
    assert headline_name(name, "eval tau", 0.71249) == f"{name} · eval tau 0.712"
    assert headline_name(name, "eval tau", math.nan) == f"{name} · eval tau n/a"


def test_a_concluded_run_shows_its_headline_in_name_description_and_tags(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    with tracked_run(True, uri, EXPERIMENT, "evaluate nats_tss/cifar10 · archs 8", {"a": 1}, {"space": "nats_tss"}) as tracker:
        tracker.conclude(Headline("best_kendall", 0.5, "best meco tau", "**League**", {"best_proxy": "meco"}))
    run = mlflow.MlflowClient(uri).get_run(tracker.run_id)
    assert run.info.run_name == "evaluate nats_tss/cifar10 · archs 8 · best meco tau 0.500"
    assert run.data.metrics["best_kendall"] == 0.5
    tags = run.data.tags
    assert tags["command"] == "evaluate" and tags["headline"] == "best_kendall" and tags["best_proxy"] == "meco"
    assert tags["mlflow.note.content"] == "**League**" and tags["space"] == "nats_tss"
    with tracked_run(False, uri, EXPERIMENT, "evaluate x", {}, {}) as tracker:  # disabled: a no-op
        tracker.conclude(Headline("best_kendall", 0.5, "tau"))


def test_a_search_headline_shows_the_best_formula_as_sympy_latex_beside_the_best_baseline(tmp_path):
    from greenmachine.formula import readable
    from greenmachine.correlations import Correlation
    from greenmachine.search_record import ProxyRow, SearchRecord, TaskSummary
    from greenmachine.summaries import search_headline

    expression = "safe_log(add(synflow, nwot))"
    simplified, latex = readable(expression)
    sets = {"search": 10, "holdout": 0, "evaluation": 20}
    task = TaskSummary("nats_tss/cifar10", "test", 200, {}, sets, 0, {}, "a test sample")

    def scores(search, evaluation):
        return {task.name: {"search": Correlation(search, search, 1.0, 10),
                            "evaluation": Correlation(evaluation, evaluation, 1.0, 20)}}

    rows = (ProxyRow("proxy_1", "found", expression, "log(synflow + nwot)", 4, scores(0.8, 0.7), 0.8, simplified, latex),
            ProxyRow("nwot", "baseline", "nwot", "nwot", 1, scores(0.6, 0.5)),
            ProxyRow("synflow", "baseline", "synflow", "synflow", 1, scores(0.4, 0.3)))
    record = SearchRecord(tasks=(task,), proxies=rows, origin={"command": "greenmachine search gp.seed=1"},
                          compute={"wall_seconds": 12.0, "prepare_seconds": 9.0})
    headline = search_headline(record, tmp_path)
    assert (headline.metric, headline.value, headline.label) == ("evaluation_tau", 0.7, "eval tau")
    assert latex.startswith(r"\log") and headline.tags == {"best_formula": "log(synflow + nwot)",
                                                             "best_formula_latex": latex, "best_proxy": "proxy_1"}
    assert f"$${latex}$$" in headline.description and "Plain: `log(synflow + nwot)`" in headline.description
    assert "| proxy_1 | nats_tss/cifar10 | 0.800 | 0.700 |" in headline.description
    assert "| nwot (best baseline on search) | nats_tss/cifar10 | 0.600 | 0.500 |" in headline.description
    assert "Wall time 12 s" in headline.description and "`greenmachine search gp.seed=1`" in headline.description
    empty = search_headline(SearchRecord(tasks=(task,), proxies=rows[1:]), tmp_path)
    assert math.isnan(empty.value) and empty.description.startswith("No proxy found.")


def _sweep_config(tmp_path, uri: str):
    return OmegaConf.create({"tracking": {"enabled": True, "uri": uri, "experiment": EXPERIMENT},
                             "hydra": {"sweep": {"dir": str(tmp_path / "sweep")}, "job": {"config_name": "search"},
                                       "overrides": {"task": ["statistics=lean", "gp.seed=0,1"]}}})


def test_a_sweep_is_one_parent_run_with_its_jobs_nested_and_named_by_the_best(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    config = _sweep_config(tmp_path, uri)
    callback = SweepCallback()
    callback.on_multirun_start(config)
    parent_id = json.loads((tmp_path / "sweep" / SWEEP_FILE).read_text())["run_id"]
    for seed, tau in ((0, 0.25), (1, 0.5)):  # what each job's search does, nested under the sweep's run
        with tracked_run(True, uri, EXPERIMENT, f"search t · seed {seed}", {}, {}, parent_run_id=parent_id) as tracker:
            tracker.conclude(Headline("evaluation_tau", tau, "eval tau"))
    callback.on_multirun_end(config)
    client = mlflow.MlflowClient(uri)
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["command"] == "search"
    assert parent.info.run_name == "search sweep · gp.seed=0,1 · best evaluation_tau 0.500"
    assert parent.data.metrics["best_evaluation_tau"] == 0.5
    assert parent.data.tags["command_line"] == "greenmachine search --multirun statistics=lean gp.seed=0,1"
    assert "search t · seed 1 · eval tau 0.500" in parent.data.tags["mlflow.note.content"]
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    assert sorted(r.info.run_name for r in children) == ["search t · seed 0 · eval tau 0.250",
                                                         "search t · seed 1 · eval tau 0.500"]


def test_a_sweep_without_tracking_has_no_parent_run(tmp_path):
    config = _sweep_config(tmp_path, f"sqlite:///{tmp_path / 'mlruns.db'}")
    config.tracking.enabled = False
    SweepCallback().on_multirun_start(config)
    SweepCallback().on_multirun_end(config)
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "mlruns.db").exists()
