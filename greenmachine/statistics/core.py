"""The statistics registry: which pass computes which statistic, and the context passes share.

A *pass* is one piece of work on a network and a probe (a forward/backward, a forward on one
sample, a re-initialised forward, ...). It produces several named *statistics* at once: per-layer
vectors (one entry per Conv2d/Linear module, in forward order) or per-network scalars. Each
statistic carries a version that is part of every cache key, so a changed definition never meets
stale values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import torch
from torch import nn

from greenmachine.data.probe import Probe
from greenmachine.errors import GreenmachineError
from greenmachine.registry import Registry

Kind = Literal["layer", "scalar"]
WEIGHTED = (nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class StatisticSpec:
    """What a statistic is.

    Attributes:
        name: the statistic's name (GP terminal name, cache column, proxy name for scalars).
        kind: `layer` (a vector over weighted layers) or `scalar` (one number per network).
        pass_name: the pass that computes it.
        version: bumped whenever its definition changes.
        doc: one line saying what it measures.
    """

    name: str
    kind: Kind
    pass_name: str
    version: int
    doc: str


@dataclass(frozen=True)
class PassSpec:
    """A registered pass: its function, the statistics it produces and the options it reads."""

    name: str
    run: Callable[[PassContext], dict[str, object]]
    produces: tuple[str, ...]
    uses: tuple[str, ...]


STATISTICS: Registry[StatisticSpec] = Registry("statistic")
PASSES: Registry[PassSpec] = Registry("statistics pass")
LABELLED: set[str] = set()
"""Statistics whose values depend on the probe's labels (the rest only see its images)."""
GRAPH_COUNTS: set[str] = set()
"""Counts of the network's graph (paths, merges) that carry NATS-cell meaning: defined on any network, but 0
or constant over whole families elsewhere (a plain CNN has no merge and one path), so a proxy meant for any
network must not multiply by them (`gp.terminals` without them; tests/test_families.py)."""


def probe_pass(name: str, produces: dict[str, tuple[Kind, int, str]], uses: tuple[str, ...] = (),
               labelled: tuple[str, ...] = (), graph_counts: tuple[str, ...] = ()):
    """Register a pass function producing `produces` (statistic name -> (kind, version, doc)).

    The function takes a PassContext and returns {statistic name: value}, with per-layer values as
    float arrays [L] in the context's layer order and scalars as floats. `uses` names the
    StatisticsOptions fields it reads (part of its cache key); `labelled` the statistics that
    depend on the probe's labels; `graph_counts` those that are GRAPH_COUNTS.
    """

    def decorate(run: Callable[[PassContext], dict[str, object]]):
        LABELLED.update(labelled)
        GRAPH_COUNTS.update(graph_counts)
        for stat, (kind, version, doc) in produces.items():
            STATISTICS.add(stat, StatisticSpec(stat, kind, name, version, doc))
        PASSES.add(name, PassSpec(name, run, tuple(produces), uses))
        return run

    return decorate


@dataclass(frozen=True)
class StatisticsOptions:
    """Settings of the passes that are part of the probe (and so of every cache key).

    Attributes:
        halves: the main pass splits the probe batch into this many chunks (ZiCo's batches).
        zen_batch: Gaussian batch size of the Zen-score pass.
        zen_repeats: independent Zen draws averaged.
        swap_batch: probe images used by SWAP.
        swap_repeats: re-initialisations averaged by SWAP.
        az_batch: Gaussian batch size of the AZ-NAS pass (the reference uses 64; 32 keeps the full
            statistics pass within 3x one forward/backward).
        meco_channels: channels sampled per module by meco_opt.
    """

    halves: int = 2
    zen_batch: int = 16
    zen_repeats: int = 1
    swap_batch: int = 16
    swap_repeats: int = 32
    az_batch: int = 32
    meco_channels: int = 8

    def settings(self) -> dict[str, int]:
        """Return the options as plain values."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class PassContext:
    """What every pass of one compute_statistics call shares.

    Attributes:
        net: the user's network; passes that change weights, modes or buffers work on `fresh_copy()`.
        probe: the probe batch (already on the network's device).
        options: pass settings.
        layers: qualified names of the weighted layers (Conv2d, Linear) in forward order.
    """

    net: nn.Module
    probe: Probe
    options: StatisticsOptions
    layers: list[str] = field(default_factory=list)

    @cached_property
    def device(self) -> torch.device:
        """Return the device of the network's parameters."""
        param = next(self.net.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    def fresh_copy(self) -> nn.Module:
        """Return a deep copy of the network in train mode with no gradients, safe to modify."""
        net = copy.deepcopy(self.net)
        for p in net.parameters():
            p.grad = None
            p.requires_grad_(True)
        return net.train()

    @contextmanager
    def borrowed(self) -> Iterator[nn.Module]:
        """Yield the network in train mode with all gradients enabled and cleared.

        On exit its mode, gradients, requires_grad flags and buffers (BN running statistics) are
        restored, so a pass may run train-mode forwards and backwards without side effects.
        """
        net = self.net
        params = list(net.parameters())
        saved = [(p.grad, p.requires_grad) for p in params]
        buffers = [(b, b.detach().clone()) for b in net.buffers()]
        mode = net.training
        try:
            for p in params:
                p.grad = None
                p.requires_grad_(True)
            yield net.train()
        finally:
            net.train(mode)
            with torch.no_grad():
                for buffer, value in buffers:
                    buffer.copy_(value)
            for p, (grad, requires) in zip(params, saved, strict=True):
                p.grad = grad
                p.requires_grad_(requires)

    def layer_modules(self, net: nn.Module) -> list[nn.Module]:
        """Return the weighted layers of `net` (the original or a copy) in this context's layer order."""
        named = dict(net.named_modules())
        return [named[name] for name in self.layers]

    def generator(self, salt: int) -> torch.Generator:
        """Return a generator seeded from the probe seed and `salt`, on the network's device."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.probe.seed * 1_000_003 + salt)
        return gen


def find_layers(net: nn.Module, probe: Probe) -> list[str]:
    """Return the qualified names of the Conv2d/Linear modules that run, in order of first execution.

    Runs the network once on the first probe image without gradients (in eval mode, restored after).
    """
    order: list[str] = []
    names = {m: n for n, m in net.named_modules()}
    seen: set[nn.Module] = set()

    def hook(module: nn.Module, _inputs: tuple, _output: torch.Tensor) -> None:
        if module not in seen:
            seen.add(module)
            order.append(names[module])

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, WEIGHTED)]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(probe.inputs[:1])
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    if not order:
        raise GreenmachineError(f"{type(net).__name__} ran no Conv2d or Linear layer on the probe; nothing to inspect")
    return order
