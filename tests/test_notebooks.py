"""The notebooks run top to bottom from a fresh kernel on a small search and two league tables."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.test_cli import TINY, run

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebooks")
    env = {"GREENMACHINE_CACHE": str(root / "cache"), "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlruns.db'}"}
    run(["search", *TINY, f"hydra.run.dir={root / 'search'}"], root, env)
    proxy = str(root / "search" / "proxies" / "proxy_1.py")
    for dataset in ("cifar10", "cifar100"):
        run(["evaluate", f"dataset={dataset}", "archs=24", "probe.batch_size=8", "workers=1", "progress=false",
             f"proxies=[meco,synflow,params,{proxy}]", f"hydra.run.dir={root / dataset}"], root, env)
    return root, env


def test_there_are_numbered_notebooks():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_a_fresh_kernel(path, store, monkeypatch):
    root, env = store
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert os.environ["MLFLOW_TRACKING_URI"].endswith("mlruns.db")
