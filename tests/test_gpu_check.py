"""experiments/gpu_check.sh without a GPU: a dry run that says so, checks its commands parse and exits 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "gpu_check.sh"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_check_is_a_dry_run_without_a_gpu(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no CUDA GPU detected (torch.cuda.is_available() is False): dry run" in done.stdout
    assert "dry run passed; nothing was run on a GPU" in done.stdout
    assert list((tmp_path / "out").iterdir()) == []  # a dry run brings nothing back
