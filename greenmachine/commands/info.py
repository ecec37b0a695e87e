"""`greenmachine info`: versions, device and where the benchmark data and caches are."""

from __future__ import annotations

import platform
from importlib import metadata

import torch
from omegaconf import DictConfig

from greenmachine.commands import command
from greenmachine.config import resolve_device
from greenmachine.errors import DataNotFoundError
from greenmachine.paths import DATA_ENV, cache_dir, data_candidates, data_dir

PACKAGES = ("greenmachine", "torch", "deap", "numpy", "scipy", "nats_bench", "hydra-core", "mlflow", "scikit-learn")
SPACE_FILES = ("nats_tss/accuracies_long.csv.gz", "nats_sss/accuracies_long.csv.gz")


@command("info", "versions, device, and where the benchmark data and caches are")
def info(cfg: DictConfig) -> dict[str, object]:
    """Print and return what greenmachine runs with."""
    report: dict[str, object] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            report[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            report[name] = "not installed"
    device = resolve_device(cfg.device)
    report["device"] = device + (f" ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else
                                 f" ({torch.get_num_threads()} threads)")
    try:
        root = data_dir(cfg.data_dir)
        present = [f for f in SPACE_FILES if (root / f).is_file()]
        report["data"] = f"{root} ({', '.join(present) or 'no compact tables: run greenmachine convert'})"
    except DataNotFoundError:
        tried = ", ".join(map(str, data_candidates(cfg.data_dir)))
        report["data"] = f"not found (looked in {tried}; set {DATA_ENV} or run greenmachine fetch)"
    report["cache"] = str(cache_dir(cfg.cache_dir))
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key.ljust(width)}  {value}")
    return report
