"""MLflow's UI, read in headless Chromium: a finished search's run page shows its name, formula and evaluation_tau.

A `--multirun` sweep of two tiny searches (two GP seeds on one sample, so the statistics are
computed once) is logged to a fresh SQLite store; the test starts `mlflow ui` on it (127.0.0.1, a
free port) and opens pages with `chromium --headless --dump-dom`, which runs MLflow's React app and
prints the DOM it built. With GREENMACHINE_SCREENSHOTS=<folder> (e.g. docs/images) the same pages
are also saved as PNGs there: that is how docs/tracking.md's screenshots are made.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import GREENMACHINE, TINY, free_port

CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))),
                None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install -y chromium; .ci/run installs it)"),
]
WINDOW = "1600,1000"
SCREENSHOTS = {"mlflow_run.png": "1400,1900", "mlflow_runs.png": "1600,700"}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Return (folder, tracking URI) of a finished sweep of two tiny searches, gp.seed=0,1."""
    root = tmp_path_factory.mktemp("mlflow_ui")
    uri = f"sqlite:///{root / 'mlruns.db'}"
    env = {"GREENMACHINE_CACHE": str(root / "cache"), "MLFLOW_TRACKING_URI": uri}
    args = ["search", "--multirun", *TINY, "gp.seed=0,1", f"hydra.sweep.dir={root / 'sweep'}"]
    done = subprocess.run([*GREENMACHINE, *args], cwd=root, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=3600)  # about a minute on an idle machine; far longer on a crowded one
    assert done.returncode == 0, f"greenmachine {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return root, uri


@pytest.fixture(scope="module")
def ui(sweep):
    """Yield the address of `mlflow ui` serving the sweep's store."""
    root, uri = sweep
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1"], cwd=root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,  # without its job runners (a dozen processes, unused here)
                              env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow ui did not answer /health within 2 minutes")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def chromium(url: str, profile: Path, budget_ms: int, *flags: str, window: str = WINDOW) -> subprocess.CompletedProcess:
    """Run headless Chromium on `url` with a virtual-time budget for MLflow's app to fetch and render."""
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={window}",
                           f"--virtual-time-budget={budget_ms}", *flags, url],
                          capture_output=True, text=True, timeout=180)


def page_text(url: str, profile: Path, expected: list[str]) -> str:
    """Return the visible text of `url` once MLflow's app has rendered it (every string of `expected` in it).

    The page is loaded again with a longer budget until the strings appear (a loaded machine renders
    slowly); the last text is returned either way, for the assertion to show.
    """
    text = ""
    for budget in (10_000, 30_000, 60_000):
        dom = chromium(url, profile, budget, "--dump-dom").stdout
        dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
        text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))
        if all(s in text for s in expected):
            break
    return text


def screenshot(url: str, profile: Path, name: str) -> None:
    """Save the page as `<GREENMACHINE_SCREENSHOTS>/<name>` when that folder is set (docs/tracking.md's images)."""
    folder = os.environ.get("GREENMACHINE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        chromium(url, profile, 20_000, f"--screenshot={Path(folder).resolve() / name}", window=SCREENSHOTS[name])


def test_a_finished_search_reads_at_a_glance_on_its_run_page(sweep, ui, tmp_path):
    import mlflow

    root, uri = sweep
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("greenmachine").experiment_id
    runs = client.search_runs([experiment])
    parents = [r for r in runs if r.data.tags.get("sweep") == "true"]
    assert len(parents) == 1 and len(runs) == 3
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2 and all(r.info.status == "FINISHED" for r in runs)
    child = next(r for r in children if "seed 1" in r.info.run_name)
    tau = child.data.metrics["evaluation_tau"]
    assert child.info.run_name == ("search nats_tss/cifar10 · stratified n=24 · pop 40 · seed 1 (sample 0) · "
                                   f"eval tau {tau:.3f}")
    assert child.data.tags["command"] == "search" and child.data.tags["headline"] == "evaluation_tau"
    assert child.data.tags["command_line"].startswith("greenmachine search ") and "gp.seed=1" in child.data.tags["command_line"]
    formula = child.data.tags["best_formula"]
    assert formula and formula in child.data.tags["mlflow.note.content"]
    best = max(r.data.metrics["evaluation_tau"] for r in children)
    assert parent.info.run_name == f"search sweep · gp.seed=0,1 · best evaluation_tau {best:.3f}"
    assert parent.data.tags["command"] == "search"
    # the first job's run opened before its statistics were computed, so its duration covers them
    first = min(children, key=lambda r: r.info.start_time)
    written = [p.stat().st_mtime for p in (root / "cache").rglob("*") if p.is_file()]
    assert written and first.info.start_time / 1000 <= min(written) + 1
    assert first.info.end_time - first.info.start_time >= 1000 * first.data.metrics["prepare_seconds"]

    page = f"{ui}/#/experiments/{experiment}/runs/{child.info.run_id}"
    text = page_text(page, tmp_path / "profile", [child.info.run_name, formula, "evaluation_tau"])
    assert child.info.run_name in text
    assert formula in text
    assert "evaluation_tau" in text
    screenshot(page, tmp_path / "profile", "mlflow_run.png")

    table = f"{ui}/#/experiments/{experiment}/runs"  # MLflow 3.x: the runs table ("Training runs")
    text = page_text(table, tmp_path / "profile", [parent.info.run_name[:20]])
    assert "Training runs" in text and parent.info.run_name[:20] in text
    screenshot(table, tmp_path / "profile", "mlflow_runs.png")
