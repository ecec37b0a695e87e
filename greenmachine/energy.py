"""Energy counters, where the machine exposes one: NVML on NVIDIA GPUs, RAPL on Intel/AMD CPUs."""

from __future__ import annotations

from pathlib import Path

import torch

RAPL_ROOT = Path("/sys/class/powercap")


class EnergyMeter:
    """Read cumulative joules from the first available counter; `joules()` is None where there is none.

    Args:
        device: the torch device the work runs on (NVML is used for CUDA devices).
    """

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.source = None
        self._handle = None
        if self.device.type == "cuda":
            try:
                import pynvml

                pynvml.nvmlInit()
                index = self.device.index if self.device.index is not None else torch.cuda.current_device()
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
                self.source = "nvml"
            except Exception:  # no NVML library, or a GPU without an energy counter
                self._handle = None
        if self.source is None:
            self._rapl = sorted(p / "energy_uj" for p in RAPL_ROOT.glob("intel-rapl:[0-9]*")
                                if (p / "energy_uj").is_file()) if RAPL_ROOT.is_dir() else []
            try:
                self._read_rapl()
                self.source = "rapl" if self._rapl else None
            except OSError:  # counters exist but are not readable without privileges
                self._rapl = []

    def _read_rapl(self) -> float:
        return sum(int(p.read_text()) for p in self._rapl) / 1e6

    def joules(self) -> float | None:
        """Return the counter's cumulative reading in joules, or None when no counter is available."""
        if self.source == "nvml":
            import pynvml

            return pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1e3
        if self.source == "rapl":
            return self._read_rapl()
        return None
