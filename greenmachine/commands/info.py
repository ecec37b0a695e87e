"""`greenmachine info`: versions, device and workers, every registered space and where the benchmark data and caches are."""

from __future__ import annotations

import platform
from pathlib import Path
from importlib import metadata

import torch
from omegaconf import DictConfig

from greenmachine.commands import command, compute_settings
from greenmachine.energy import EnergyMeter
from greenmachine.errors import DataNotFoundError
from greenmachine.paths import DATA_ENV, cache_dir, data_candidates, data_dir
from greenmachine.spaces import all_spaces

PACKAGES = ("greenmachine", "torch", "deap", "numpy", "scipy", "nats_bench", "hydra-core", "mlflow", "scikit-learn")


@command("info", "versions, device and workers, every registered space, and where the benchmark data and caches are")
def info(cfg: DictConfig) -> dict[str, object]:
    """Print and return what greenmachine runs with."""
    report: dict[str, object] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            report[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            report[name] = "not installed"
    compute = compute_settings(cfg)
    device = compute.device
    report["device"] = device + (f" ({torch.cuda.get_device_name(device)})" if device.startswith("cuda") else
                                 f" ({torch.get_num_threads()} threads)")
    workers, threads = compute.plan()
    report["statistics"] = (f"{workers} worker process{'es' * (workers > 1)} x {threads} torch thread{'s' * (threads > 1)}"
                            f" (workers={cfg.workers}, threads={cfg.threads})")
    try:
        root = data_dir(compute.data_dir)
        report["data"] = str(root)
    except DataNotFoundError:
        root = None
        tried = ", ".join(map(str, data_candidates(compute.data_dir)))
        report["data"] = f"not found (looked in {tried}; set {DATA_ENV} or run greenmachine fetch)"
    for space in all_spaces():
        path = Path(space.ground_truth)
        truth = space.ground_truth
        if root is not None and not path.is_absolute():
            truth += " (found)" if (root / path).is_file() else f" (missing under {root})"
        report[f"space {space.name}"] = f"{space.origin}; {space.describe()}; ground truth {truth}"
    report["cache"] = str(cache_dir(compute.cache_dir))
    report["energy"] = EnergyMeter(device).describe()
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key.ljust(width)}  {value}")
    return report
