"""Joules of any piece of work: measured by a counter where the machine has one, else estimated by a stated model.

Counters: NVML's cumulative energy on NVIDIA GPUs (Volta and later) for work on a CUDA device, RAPL
(Linux powercap: CPU packages and their DRAM domains) for work on the CPU. Both count the whole
device, including other processes running on it at the same time.

Without a counter the energy is estimated with CodeCarbon's process-level model (codecarbon 3.x,
`tracking_mode="process"`, CPU-load fallback), computed here in a few lines instead of importing
it (see docs/energy.md for why):

    CPU  = CPU time of this process and its finished children x TDP x sockets / logical CPUs
    RAM  = wall time x the power of the DIMMs that hold the process's memory (5 W per x86 DIMM,
           1.5 W per ARM one; DIMM count from the memory size; at least 2 DIMMs on x86, 3 W on ARM)
    GPU  = wall time x the GPU's power limit (NVML) or its board power from GPU_WATTS (CUDA work only)

The TDP comes from CPU_TDP_WATTS by the CPU's model name, else CodeCarbon's default of 85 W;
`GREENMACHINE_CPU_WATTS` and `GREENMACHINE_GPU_WATTS` override the CPU's TDP (per socket) and the
GPU's power. Every figure carries its label, `measured` or `estimated`, wherever it is shown.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import torch

from greenmachine.errors import GreenmachineError

MEASURED = "measured"
ESTIMATED = "estimated"
SOURCES = (MEASURED, ESTIMATED)
RAPL_ROOT = Path("/sys/class/powercap")
CPU_WATTS_ENV = "GREENMACHINE_CPU_WATTS"
GPU_WATTS_ENV = "GREENMACHINE_GPU_WATTS"

# Thermal design power per socket (W), from the vendors' specification pages; the longest name
# found in /proc/cpuinfo's model name wins. Unlisted CPUs get DEFAULT_CPU_TDP (CodeCarbon's default).
CPU_TDP_WATTS = {
    "AMD EPYC 7742": 225.0,
    "AMD EPYC 7763": 280.0,
    "AMD EPYC 9554": 360.0,
    "AMD EPYC 9654": 360.0,
    "Intel Xeon Gold 6248": 150.0,
    "Intel Xeon Platinum 8380": 270.0,
    "Intel Xeon Platinum 8468": 350.0,
    "Intel Xeon Platinum 8480": 350.0,
}
DEFAULT_CPU_TDP = 85.0
# Board power (W) by the CUDA device name, used when NVML cannot tell the power limit.
GPU_WATTS = {
    "H100 80GB HBM3": 700.0,  # SXM5
    "H100 PCIe": 350.0,
    "H200": 700.0,
    "A100-SXM4": 400.0,
    "A100-PCIE-40GB": 250.0,
    "V100-SXM2": 300.0,
    "V100-PCIE": 250.0,
    "GeForce GTX 1080 Ti": 250.0,
    "Tesla T4": 70.0,
}
DIMM_WATTS = {"x86": 5.0, "arm": 1.5}
MIN_RAM_WATTS = {"x86": 10.0, "arm": 3.0}


@dataclass(frozen=True)
class Energy:
    """Joules of some work and how they were obtained.

    Attributes:
        joules: the energy (NaN when unknown).
        source: `measured` (read from a counter) or `estimated` (the power model); a sum of parts is
            measured only if every part was.
    """

    joules: float
    source: str

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"energy source {self.source!r}; valid: {', '.join(SOURCES)}")

    def __add__(self, other: Energy) -> Energy:
        return Energy(self.joules + other.joules, MEASURED if self.source == other.source == MEASURED else ESTIMATED)

    def __str__(self) -> str:
        return f"{format_joules(self.joules)} ({self.source})"

    def metrics(self, what: str) -> dict[str, float]:
        """Return the MLflow metric of this energy, named `<what>_joules_<source>` so the label travels with it."""
        return {f"{what}_joules_{self.source}": self.joules}


def total_energy(parts: Iterable[Energy]) -> Energy:
    """Return the sum of `parts` (measured only if every part was); 0 J measured for none."""
    out = Energy(0.0, MEASURED)
    for part in parts:
        out = out + part
    return out


def energy_from_metrics(metrics: Mapping[str, float], what: str) -> Energy | None:
    """Return the energy stored by Energy.metrics(`what`) in `metrics`, or None if it holds none."""
    for source in SOURCES:
        value = metrics.get(f"{what}_joules_{source}")
        if value is not None:
            return Energy(float(value), source)
    return None


def format_joules(joules: float) -> str:
    """Return joules for a person: `12.3 J`, `4.56 kJ`, `7.89 MJ` (three significant figures); `n/a` for NaN."""
    if not math.isfinite(joules):
        return "n/a"
    for unit, scale in (("MJ", 1e6), ("kJ", 1e3)):
        if abs(joules) >= scale:
            return f"{joules / scale:.3g} {unit}"
    return f"{joules:.3g} J"


class Counter(Protocol):
    """A cumulative energy counter of a device."""

    name: str

    def read(self) -> float:
        """Return the cumulative energy in joules since some fixed origin."""


class RaplCounter:
    """The RAPL counters of the CPU packages and their DRAM domains (Linux powercap), summed, wrap-around handled.

    The platform (`psys`) domain is left out: it overlaps the packages.
    """

    name = "rapl"

    def __init__(self, root: Path = RAPL_ROOT):
        packages = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
        domains = [p for p in packages if _domain_name(p).startswith("package")]
        domains += [d for p in domains for d in sorted(root.glob(f"{p.name}:*")) if _domain_name(d) == "dram"]
        self._files = [d / "energy_uj" for d in domains if (d / "energy_uj").is_file()]
        if not self._files:
            raise OSError(f"no readable RAPL package domain under {root}")
        self._ranges = [_read_number(d / "max_energy_range_uj", 2 ** 32) for d in (f.parent for f in self._files)]
        self._last = [int(f.read_text()) for f in self._files]  # raises PermissionError where root-only
        self._total = 0

    def read(self) -> float:
        """Return the joules counted since this counter was made (each domain's wrap-around added back)."""
        for i, path in enumerate(self._files):
            value = int(path.read_text())
            step = value - self._last[i]
            self._total += step if step >= 0 else step + self._ranges[i]
            self._last[i] = value
        return self._total / 1e6


def _domain_name(domain: Path) -> str:
    try:
        return (domain / "name").read_text().strip()
    except OSError:
        return ""


def _read_number(path: Path, default: int) -> int:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return default


class NvmlCounter:
    """NVML's total energy of one GPU since the driver loaded (Volta and later)."""

    name = "nvml"

    def __init__(self, device: torch.device):
        import pynvml

        pynvml.nvmlInit()
        index = device.index if device.index is not None else torch.cuda.current_device()
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self._nvml = pynvml
        self.read()  # raises on GPUs without the counter

    def read(self) -> float:
        """Return the GPU's cumulative joules."""
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1e3


def find_counter(device: torch.device | str) -> Counter | None:
    """Return the energy counter of `device` (NVML for CUDA, RAPL for the CPU), or None where there is none or it is unreadable."""
    device = torch.device(device)
    try:
        return NvmlCounter(device) if device.type == "cuda" else RaplCounter()
    except Exception:  # no NVML library, a GPU without the counter, no RAPL, or RAPL readable by root only
        return None


@dataclass(frozen=True)
class PowerModel:
    """The power figures of the estimate (see the module docstring).

    Attributes:
        cpu: the CPU's model name, as the estimate found it.
        cpu_watts: TDP of all sockets, W.
        cpu_threads: logical CPUs that TDP is shared by.
        arch: `x86` or `arm` (sets the power per DIMM).
        gpu: the GPU's name, empty when the work is not on a GPU.
        gpu_watts: the GPU's power, W (0 when not on a GPU, or unknown).
    """

    cpu: str
    cpu_watts: float
    cpu_threads: int
    arch: str = "x86"
    gpu: str = ""
    gpu_watts: float = 0.0

    @property
    def watts_per_thread(self) -> float:
        """Return the power of one busy logical CPU, W."""
        return self.cpu_watts / self.cpu_threads

    def ram_watts(self, gigabytes: float) -> float:
        """Return the power of the DIMMs holding `gigabytes` of memory (CodeCarbon 3's DIMM-count rule), W."""
        if gigabytes <= 2:
            dimms = 1
        elif gigabytes <= 16:
            dimms = 2
        elif gigabytes <= 64:
            dimms = 4
        elif gigabytes <= 128:
            dimms = 8
        else:
            size = next((s for s in (128, 64, 32, 16, 8, 4) if s <= gigabytes / 8), None)
            dimms = min(math.ceil(gigabytes / size), 32) if size else 8
        # each DIMM beyond the 4th, 8th and 16th costs 90 %, 80 % and 70 % of a DIMM's power
        weights = [1.0] * 4 + [0.9] * 4 + [0.8] * 8 + [0.7] * 16
        return max(MIN_RAM_WATTS[self.arch], DIMM_WATTS[self.arch] * sum(weights[:dimms]))

    def estimate(self, cpu_seconds: float, wall_seconds: float, memory_gb: float = 1.0, gpu_seconds: float = 0.0) -> float:
        """Return the estimated joules of work that took `cpu_seconds` of CPU time over `wall_seconds` (GPU busy `gpu_seconds`)."""
        return (cpu_seconds * self.watts_per_thread + wall_seconds * self.ram_watts(memory_gb)
                + gpu_seconds * self.gpu_watts)

    def describe(self) -> str:
        """Return the model's figures in one line, for reports."""
        text = (f"CPU {self.cpu}: {self.cpu_watts:g} W TDP / {self.cpu_threads} logical CPUs = "
                f"{self.watts_per_thread:.3g} W per busy CPU; RAM {self.ram_watts(1.0):g} W (up to 2 GB)")
        if self.gpu:
            text += f"; GPU {self.gpu}: {self.gpu_watts:g} W" if self.gpu_watts else f"; GPU {self.gpu}: not counted (power unknown)"
        return text


def cpu_model_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, int]:
    """Return the CPU's model name and its number of sockets (1 where /proc/cpuinfo does not say)."""
    name, sockets = "", set()
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in ("model name", "Model") and not name:
                name = value
            elif key == "physical id":
                sockets.add(value)
    except OSError:
        pass
    return name or platform.processor() or "unknown CPU", max(1, len(sockets))


def _lookup(table: Mapping[str, float], name: str) -> float | None:
    matches = [key for key in table if key.lower() in name.lower()]
    return table[max(matches, key=len)] if matches else None


def _env_watts(variable: str) -> float | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    try:
        watts = float(value)
    except ValueError:
        watts = -1.0
    if not watts > 0:
        raise GreenmachineError(f"{variable}={value!r}; valid: a positive number of watts")
    return watts


def _gpu_power(device: torch.device) -> tuple[str, float]:
    """Return the GPU's name and power: the override, NVML's enforced power limit, GPU_WATTS, else 0."""
    name = torch.cuda.get_device_name(device)
    override = _env_watts(GPU_WATTS_ENV)
    if override is not None:
        return name, override
    try:
        import pynvml

        pynvml.nvmlInit()
        index = device.index if device.index is not None else torch.cuda.current_device()
        return name, pynvml.nvmlDeviceGetEnforcedPowerLimit(pynvml.nvmlDeviceGetHandleByIndex(index)) / 1e3
    except Exception:  # no NVML library or no permission: fall back on the table
        return name, _lookup(GPU_WATTS, name) or 0.0


@lru_cache(maxsize=None)
def power_model(device: str = "cpu") -> PowerModel:
    """Return the power model of this machine for work on `device` (cached per process)."""
    name, sockets = cpu_model_name()
    tdp = _env_watts(CPU_WATTS_ENV) or _lookup(CPU_TDP_WATTS, name) or DEFAULT_CPU_TDP
    machine = platform.machine().lower()
    arch = "arm" if "arm" in machine or "aarch" in machine else "x86"
    gpu, gpu_watts = _gpu_power(torch.device(device)) if torch.device(device).type == "cuda" else ("", 0.0)
    return PowerModel(name, tdp * sockets, os.cpu_count() or 1, arch, gpu, gpu_watts)


def estimate_from_seconds(seconds: float, device: str = "cpu") -> float:
    """Return the estimated joules of work that kept one CPU thread (and, on a GPU, the GPU) busy for `seconds` of wall time.

    For records that kept only their wall time (statistics cached before energy was recorded).
    """
    model = power_model(device)
    return model.estimate(seconds, seconds, gpu_seconds=seconds if model.gpu else 0.0)


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _memory_gb() -> float:
    """Return the peak resident memory of this process and its finished children, GB."""
    scale = 1 if platform.system() == "Darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    peak = sum(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return peak * scale / 2 ** 30


@dataclass(frozen=True)
class Mark:
    """Where a meter stood when a piece of work began."""

    counter: float | None
    cpu_seconds: float
    wall: float


class EnergyMeter:
    """Measure or estimate the joules of work on one device: `mark()` before it, `since(mark)` after it.

    Args:
        device: the torch device the work runs on (its counter: NVML for CUDA, RAPL for the CPU).
        counter: `auto` looks for the device's counter (find_counter); None estimates; or a counter to
            read (tests pass a fake one).
        model: the power model of the estimate; None uses this machine's (power_model).
    """

    def __init__(self, device: torch.device | str = "cpu", counter: Counter | str | None = "auto",
                 model: PowerModel | None = None):
        self.device = torch.device(device)
        self.counter = find_counter(self.device) if counter == "auto" else counter
        self._model = model

    @property
    def source(self) -> str:
        """Return `measured` when the meter reads a counter, else `estimated`."""
        return MEASURED if self.counter is not None else ESTIMATED

    @property
    def model(self) -> PowerModel:
        """Return the power model of the estimate."""
        if self._model is None:
            self._model = power_model(str(self.device))
        return self._model

    def describe(self) -> str:
        """Return how this meter gets joules, in one line."""
        if self.counter is not None:
            return f"measured with the {self.counter.name} counter of {self.device}"
        return f"estimated (CodeCarbon's process model): {self.model.describe()}"

    def mark(self) -> Mark:
        """Return the meter's readings now."""
        return Mark(self.counter.read() if self.counter is not None else None, _cpu_seconds(), time.perf_counter())

    def since(self, mark: Mark) -> Energy:
        """Return the energy of the work done since `mark`."""
        wall = time.perf_counter() - mark.wall
        if self.counter is not None:
            return Energy(self.counter.read() - mark.counter, MEASURED)
        gpu_seconds = wall if self.device.type == "cuda" else 0.0
        return Energy(self.model.estimate(_cpu_seconds() - mark.cpu_seconds, wall, _memory_gb(), gpu_seconds), ESTIMATED)
