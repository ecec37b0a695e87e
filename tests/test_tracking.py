"""MLflow tracking: the store is created under a lock, and a resumed search continues its own run."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from greenmachine.errors import CorruptFileError
from greenmachine.gp import GenerationRecord
from greenmachine.callbacks import MLflowLogger
from greenmachine.tracking import RUN_FILE, ensure_store, tracked_run

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
