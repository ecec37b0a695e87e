"""compute_statistics: run the passes a set of statistics needs on any network and probe."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from greenmachine.data.probe import Probe, user_probe
from greenmachine.errors import GreenmachineError
from greenmachine.statistics.core import PASSES, STATISTICS, PassContext, StatisticsOptions, find_layers, labelled, tagged
from greenmachine.statistics.table import StatisticsTable, stack_statistics

if TYPE_CHECKING:  # only annotated here; an exported proxy inlines this module without energy.py
    from greenmachine.energy import EnergyMeter


def default_statistics() -> list[str]:
    """Return the statistics a statistics pass computes unless told otherwise: all but those of `expensive` passes.

    Expensive passes cost several forward/backward passes on their own (grasp's double backward,
    SWAP's 32 re-initialisations).
    """
    expensive = set(tagged("expensive"))
    return [s for s in STATISTICS.names() if s not in expensive]


def lean_statistics() -> list[str]:
    """Return the statistics of the `lean` passes (no labels, no weight gradients): what whole spaces are scored with."""
    return tagged("lean")


@dataclass(frozen=True)
class Statistics:
    """The statistics of one network on one probe.

    Attributes:
        layers: qualified names of the weighted layers (Conv2d, Linear) in forward order, length L.
        layer: per-layer statistics, name -> float64 [L].
        scalar: per-network statistics, name -> float.
        seconds: wall time of each pass that ran.
        joules: energy of each pass that ran, where an energy meter was given (measured or estimated).
        energy_source: `measured` or `estimated`: how the meter got `joules` (empty without a meter).
    """

    layers: tuple[str, ...]
    layer: dict[str, np.ndarray]
    scalar: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)
    joules: dict[str, float] = field(default_factory=dict)
    energy_source: str = ""

    def __getitem__(self, name: str) -> np.ndarray | float:
        return self.layer[name] if name in self.layer else self.scalar[name]


def passes_for(names: Iterable[str]) -> list[str]:
    """Return the passes needed for `names`, in registration order; unknown names raise UnknownNameError."""
    needed = {STATISTICS[name].pass_name for name in names}
    return [p for p in PASSES.names() if p in needed]


def _non_finite(tensors: list[torch.Tensor]) -> list[int]:
    """Return how many entries of each tensor are NaN or infinite (0 for non-floating ones), with one sync per device."""
    counts = [(~torch.isfinite(t.detach())).sum() if t.is_floating_point() else torch.zeros((), dtype=torch.int64,
              device=t.device) for t in tensors]
    if len({c.device for c in counts}) == 1:
        return torch.stack(counts).tolist()
    return [int(c) for c in counts]


def check_inputs(net: nn.Module, probe: Probe) -> None:
    """Raise GreenmachineError unless the probe has images and they, the network's parameters and its buffers are finite.

    Statistics of a NaN batch or NaN weights are a mix of 0, -inf and NaN that can look valid.
    """
    count = probe.inputs.shape[0]
    if count == 0:
        raise GreenmachineError(f"the probe batch is empty (0 images, shape {tuple(probe.inputs.shape)}); "
                                "give at least one image, [B, C, H, W] with B >= 1")
    (bad,) = _non_finite([probe.inputs])
    if bad:
        raise GreenmachineError(f"the probe images hold {bad} non-finite value{'s' if bad > 1 else ''} (NaN or inf) "
                                f"in {count} images; give finite, normalised images")
    named = [("parameter", n, v) for n, v in net.named_parameters()] + [("buffer", n, v) for n, v in net.named_buffers()]
    for (kind, name, value), bad in zip(named, _non_finite([v for _, _, v in named]) if named else []):
        if bad:
            raise GreenmachineError(f"network {kind} {name!r} holds {bad} non-finite value{'s' if bad > 1 else ''} "
                                    f"(NaN or inf) of {value.numel()}; statistics of such a network mean nothing: "
                                    "initialise it again (or load finite weights)")


def compute_statistics(net: nn.Module, probe: Probe | torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                       names: Iterable[str] | None = None, options: StatisticsOptions | None = None,
                       meter: EnergyMeter | None = None) -> Statistics:
    """Return the statistics `names` (default: `default_statistics()`) of `net` on `probe`.

    `probe` takes the forms `greenmachine.score` takes: a Probe (`greenmachine.data.probe_batch`),
    images float [B, C, H, W] normalised as the network expects, or (images, labels int [B]); labels
    are needed only by the statistics that read them (snip, grad_norm, ...), and a bad batch raises
    naming the valid forms.

    Only the passes those statistics need are run. The network is left as it was: passes restore
    its mode, gradients and buffers, and those that re-initialise or modify weights never touch it.
    With a `meter`, each pass's energy is recorded (measured where the machine has a counter, else estimated). Raises
    GreenmachineError for an empty or non-finite probe and for non-finite weights (see check_inputs).
    """
    if isinstance(names, str):
        raise GreenmachineError(f"names={names!r} is a string; give a list of statistic names, e.g. names=[{names!r}]")
    names = list(dict.fromkeys(default_statistics() if names is None else names))
    probe = user_probe(probe, labelled=labelled(names))
    check_inputs(net, probe)
    options = options or StatisticsOptions()
    pass_names = passes_for(names)
    param = next(net.parameters(), None)
    probe = probe.to(param.device if param is not None else "cpu")
    ctx = PassContext(net=net, probe=probe, options=options)
    ctx.layers = find_layers(net, probe)
    layer: dict[str, np.ndarray] = {}
    scalar: dict[str, float] = {}
    seconds: dict[str, float] = {}
    joules: dict[str, float] = {}
    wanted = set(names)
    for pass_name in pass_names:
        mark = meter.mark() if meter is not None else None
        start = time.perf_counter()
        produced = PASSES[pass_name].run(ctx)
        if ctx.device.type == "cuda":
            torch.cuda.synchronize(ctx.device)
        seconds[pass_name] = time.perf_counter() - start
        if mark is not None:
            joules[pass_name] = meter.since(mark).joules
        for stat, value in produced.items():
            if stat not in wanted:
                continue
            if STATISTICS[stat].kind == "layer":
                layer[stat] = np.asarray(value, dtype=np.float64)
            else:
                scalar[stat] = float(value)
    return Statistics(tuple(ctx.layers), layer, scalar, seconds, joules, meter.source if meter is not None else "")


Request = tuple[Sequence[str], StatisticsOptions]
"""Statistic names wanted under some pass settings (a proxy's statistics with the settings it is measured with)."""


def pass_key(pass_name: str, options: StatisticsOptions) -> tuple[str, tuple[object, ...]]:
    """Return what identifies a run of `pass_name`: its name and the values of the options it reads (its `uses`).

    Two settings that agree on those options give the same values (they share a cache folder too).
    """
    return pass_name, tuple(getattr(options, k) for k in PASSES[pass_name].uses)


def pass_runs(requests: Iterable[Request]) -> list[tuple[StatisticsOptions, list[str]]]:
    """Return the (options, passes) to run so that every request is met, each pass once per distinct settings it reads.

    A pass is run with the options of the first request that needs it; a later request whose options
    differ only in settings that pass does not read reuses that run. Passes keep registration order.
    """
    seen: set[tuple[str, tuple[object, ...]]] = set()
    runs: dict[StatisticsOptions, list[str]] = {}
    for names, options in requests:
        for p in passes_for(names):
            if pass_key(p, options) not in seen:
                seen.add(pass_key(p, options))
                runs.setdefault(options, []).append(p)
    return [(options, [p for p in PASSES.names() if p in passes]) for options, passes in runs.items()]


def network_tables(net: nn.Module, probe: Probe, requests: Sequence[Request]) -> list[StatisticsTable]:
    """Return, per request, its statistics of one network on `probe` as a one-row table (arch index 0).

    The one path from a network to the tables proxies evaluate (`greenmachine.score`, exported proxy
    modules): each pass runs once per distinct settings it reads (`pass_runs`), however many
    requests read it; the benchmark cache stores the same compute_statistics rows. Raises what
    compute_statistics raises.
    """
    requests = [(list(dict.fromkeys(names)), options) for names, options in requests]
    runs: dict[tuple[str, tuple[object, ...]], Statistics] = {}
    for options, passes in pass_runs(requests):
        stats = compute_statistics(net, probe, [s for p in passes for s in PASSES[p].produces], options)
        runs.update({pass_key(p, options): stats for p in passes})
    tables = []
    for names, options in requests:
        layer: dict[str, np.ndarray] = {}
        scalar: dict[str, float] = {}
        for p in passes_for(names):
            stats = runs[pass_key(p, options)]
            layer.update({s: stats.layer[s] for s in PASSES[p].produces if s in stats.layer})
            scalar.update({s: stats.scalar[s] for s in PASSES[p].produces if s in stats.scalar})
        tables.append(stack_statistics([(0, layer, scalar)], names))
    return tables


def network_table(net: nn.Module, probe: Probe, names: Sequence[str], options: StatisticsOptions | None = None) -> StatisticsTable:
    """Return the statistics `names` of one network on `probe` as a one-row table (see network_tables)."""
    return network_tables(net, probe, [(names, options or StatisticsOptions())])[0]
