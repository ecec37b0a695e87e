"""The greenmachine command under stress: two searches at once on a fresh cache and store, kill -9 and resume."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

GREENMACHINE = [sys.executable, "-m", "greenmachine"]
# Smaller than test_cli's TINY: structure statistics only, so two processes on two cores finish in about a minute.
SMALL = ["sampling.n=12", "sampling.holdout_n=6", "evaluation_size=12", "probe.batch_size=4",
         "statistics.names=[params,flops,depth,path_convs_max,log_paths,layer_params,layer_flops]",
         "gp.population=20", "gp.generations=3", "workers=1", "progress=false"]
GENERATIONS = 3


def _env(tmp_path) -> dict[str, str]:
    # OMP_WAIT_POLICY: two processes whose OpenMP threads spin on two shared cores run many times slower
    return {**os.environ, "GREENMACHINE_CACHE": str(tmp_path / "cache"), "OMP_WAIT_POLICY": "PASSIVE",
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns.db'}"}


def _runs(tmp_path):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlruns.db'}")
    experiment = client.get_experiment_by_name("greenmachine")
    return client, client.search_runs([experiment.experiment_id])


@pytest.mark.slow
def test_two_searches_started_together_share_one_fresh_cache_and_store(tmp_path):
    env = _env(tmp_path)
    procs = [subprocess.Popen([*GREENMACHINE, "search", *SMALL, f"hydra.run.dir={tmp_path / f'run{i}'}"], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, f"{out}\n{err}"
    client, runs = _runs(tmp_path)
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    for r in runs:
        steps = sorted(m.step for m in client.get_metric_history(r.info.run_id, "best_tau"))
        assert steps == list(range(GENERATIONS + 1))
        assert {"hall_of_fame.csv", "report.md"} <= {f.path for f in client.list_artifacts(r.info.run_id)}
    # the same statistics (one cache, each arch once), so the same search
    assert (tmp_path / "run0" / "hall_of_fame.csv").read_text() == (tmp_path / "run1" / "hall_of_fame.csv").read_text()
    folders = list((tmp_path / "cache" / "statistics").rglob("structure-*"))
    assert len(folders) == 1 and not list(folders[0].glob("*.corrupt"))
    archs = np.concatenate([np.load(p)["arch"] for p in folders[0].glob("part-*.npz")])
    assert len(archs) == len(set(archs.tolist())) == 12 + 6 + 12


KILL_AFTER_CHECKPOINT = textwrap.dedent("""
    import importlib, os, signal, sys
    checkpoint = importlib.import_module("greenmachine.gp.checkpoint")

    save = checkpoint.Checkpoint.__call__

    def save_then_die(self, record, state):
        save(self, record, state)
        if state.generation == 2:  # checkpointed, not yet logged: the worst moment for the fitness curve
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint.Checkpoint.__call__ = save_then_die
    from greenmachine.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.slow
def test_a_search_killed_and_resumed_is_one_finished_mlflow_run_with_the_whole_fitness_curve(tmp_path):
    env, out = _env(tmp_path), tmp_path / "run"
    args = ["search", *SMALL, f"hydra.run.dir={out}"]
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_CHECKPOINT, *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    client, runs = _runs(tmp_path)
    assert len(runs) == 1 and runs[0].info.status == "RUNNING"  # what kill -9 leaves

    resumed = subprocess.run([*GREENMACHINE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    client, runs = _runs(tmp_path)
    assert len(runs) == 1, [r.info.run_name for r in runs]
    run = client.get_run(runs[0].info.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["resumed_at_generation"] == "3"
    history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "best_tau"))
    with open(out / "checkpoint.pkl", "rb") as f:
        log = pickle.load(f)["log"]
    assert history == [(r.generation, r.best_fitness) for r in log]  # generations 0..3, each once
    assert [step for step, _ in history] == list(range(GENERATIONS + 1))
