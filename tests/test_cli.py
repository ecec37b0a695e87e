"""The greenmachine command as a user runs it: help, errors, a tiny search end to end, resume, MLflow."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

GREENMACHINE = [sys.executable, "-m", "greenmachine"]
TINY = ["sampling.n=24", "sampling.holdout_n=12", "evaluation_size=24", "probe.batch_size=8", "statistics=lean",
        "gp.population=40", "gp.generations=3", "workers=1", "progress=false"]


def run(args, cwd, env=None, check=True):
    result = subprocess.run([*GREENMACHINE, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                            text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"greenmachine {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_help_lists_every_command(tmp_path):
    out = run([], tmp_path).stdout
    for name in ("info", "cache", "search", "evaluate", "export", "ensemble", "convert", "fetch"):
        assert f"  {name}" in out


def test_unknown_command_and_bad_values_fail_with_a_clear_message(tmp_path):
    bad = run(["serach"], tmp_path, check=False)
    assert bad.returncode == 2 and "unknown command 'serach'; valid: cache" in bad.stderr
    bad = run(["info", "device=tpu"], tmp_path, check=False)
    assert bad.returncode == 2 and "device='tpu' is not a torch device; valid: auto, cpu, cuda, cuda:N" in bad.stderr
    bad = run(["cache", "space=nats_xyz"], tmp_path, check=False)
    assert bad.returncode == 2 and "unknown space 'nats_xyz'; valid: nas_bench_macro, nasbench101, nats_sss, nats_tss, transnas_micro" in bad.stderr
    bad = run(["cache", "archs=0"], tmp_path, check=False)
    assert "archs=0 is out of range for nats_tss (1..15625)" in bad.stderr
    bad = run(["search", "sampling.strategy=greedy", "evaluation_size=0"], tmp_path, check=False)
    assert "unknown sampling strategy 'greedy'; valid: random, stratified" in bad.stderr
    bad = run(["search", "gp.popsize=3"], tmp_path, check=False)
    assert "popsize" in bad.stderr


def test_info_says_where_the_data_is(tmp_path):
    out = run(["info"], tmp_path).stdout
    assert "torch" in out and "nats_tss/accuracies_long.csv.gz" in out
    missing = run(["info"], tmp_path, env={"GREENMACHINE_DATA": str(tmp_path / "nowhere")}).stdout
    assert "not found" in missing and "greenmachine fetch" in missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_tiny_search_writes_everything_resumes_and_is_readable_through_the_mlflow_server(tmp_path):
    env = {"GREENMACHINE_CACHE": str(tmp_path / "cache"), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns.db'}"}
    out = tmp_path / "run"
    first = run(["search", *TINY, f"hydra.run.dir={out}"], tmp_path, env)
    assert "best proxy on nats_tss/cifar10" in first.stdout
    for name in ("hall_of_fame.csv", "report.md", "report.json", "fitness.png", "scatter.png", "formulas.txt",
                 "checkpoint.pkl"):
        assert (out / name).is_file(), name
    proxies = sorted((out / "proxies").glob("proxy_*.py"))
    assert proxies
    hall = (out / "hall_of_fame.csv").read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["tasks"][0]["sets"] == {"search": 24, "holdout": 12, "evaluation": 24}
    assert {p["kind"] for p in report["proxies"]} == {"found", "baseline"}

    # a rerun in the same folder resumes from the checkpoint and reports the same hall of fame
    run(["search", *TINY, f"hydra.run.dir={out}"], tmp_path, env)
    assert (out / "hall_of_fame.csv").read_text() == hall

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", env["MLFLOW_TRACKING_URI"], "--workers", "1"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        experiment = json.load(urllib.request.urlopen(f"{base}/experiments/get-by-name?experiment_name=greenmachine"))
        request = urllib.request.Request(f"{base}/runs/search", method="POST", headers={"Content-Type": "application/json"},
                                         data=json.dumps({"experiment_ids": [experiment["experiment"]["experiment_id"]]}).encode())
        runs = json.load(urllib.request.urlopen(request))["runs"]
        assert len(runs) == 1 and runs[0]["info"]["status"] == "FINISHED"  # the rerun continued the search's own run
        latest = runs[0]
        metrics = {m["key"] for m in latest["data"]["metrics"]}
        assert {"best_tau", "median_tau", "mean_tree_size", "distinct_programs", "cache_hits",
                "evaluations_per_second"} <= metrics
        params = {p["key"]: p["value"] for p in latest["data"]["params"]}
        assert params["gp.population"] == "40" and params["space.name"] == "nats_tss"
        tags = {t["key"]: t["value"] for t in latest["data"]["tags"]}
        assert tags["space"] == "nats_tss" and tags["sampling"] == "stratified"
        history = json.load(urllib.request.urlopen(f"{base}/metrics/get-history?run_id={latest['info']['run_id']}"
                                                   "&metric_key=best_tau"))
        assert len(history["metrics"]) == 4  # generations 0..3
        listed = json.load(urllib.request.urlopen(f"{base}/artifacts/list?run_id={latest['info']['run_id']}"))
        files = {f["path"] for f in listed["files"]}
        assert {"hall_of_fame.csv", "report.md", "fitness.png", "scatter.png", "formulas.txt", "proxies"} <= files
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows = list(csv.DictReader((out / "hall_of_fame.csv").open()))
    assert rows and rows[0]["name"] == "proxy_1"

    # the found proxy, exported under a name, joins baselines in a league table on other archs
    shipped = tmp_path / "shipped"
    run(["export", f"run={out}", f"out={shipped}", "top=1", "name=mine"], tmp_path, env)
    module = (shipped / "mine.py").read_text()
    origin = json.loads((out / "report.json").read_text())["origin"]  # the rerun's MLflow run wrote it last
    assert origin["run_id"] in {r["info"]["run_id"] for r in runs}
    assert f"run_id: {origin['run_id']}" in module and "NAME = 'mine'" in module
    league_dir = tmp_path / "league"
    run(["evaluate", "archs=[5,6,7,8,9,10,11,12]", "probe.batch_size=8", "statistics=lean", "workers=1",
         "progress=false", f"proxies=[params,synflow,{shipped / 'mine.py'}]", f"hydra.run.dir={league_dir}"], tmp_path, env)
    league = json.loads((league_dir / "league.json").read_text())
    assert {r["proxy"] for r in league} == {"params", "synflow", "mine"}
    assert all(r["n_archs"] == 8 and -1 <= r["kendall"] <= 1 for r in league)
    assert (league_dir / "ranking.png").is_file() and (league_dir / "scatter_mine.png").is_file()
