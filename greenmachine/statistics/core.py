"""The statistics registry: which pass computes which statistic, and the context passes share.

A *pass* is one piece of work on a network and a probe (a forward/backward, a forward on one
sample, a re-initialised forward, ...). It produces several named *statistics* at once: per-layer
vectors (one entry per Conv2d/Linear module, in forward order) or per-network scalars. Each
statistic carries a version that is part of every cache key, so a changed definition never meets
stale values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
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


STATISTIC_TAGS = {
    "labelled": "its values depend on the probe's labels (the others see only its images)",
    "baseline": "a published proxy's score: registered as the proxy of the same name, reported beside found proxies",
    "unreported": "left out of the baselines a search report compares against (plain: negative by construction)",
    "graph_count": "a count of the network's graph (paths, merges) with NATS-cell meaning: 0 or constant over whole "
                   "families elsewhere (a plain CNN has no merge and one path), so a proxy meant for any network must "
                   "not multiply by it (`gp.terminals` without them; tests/test_families.py)",
}
PASS_TAGS = {
    "lean": "needs no labels and no weight gradients: cheap enough for whole spaces (`statistics=lean`)",
    "expensive": "costs several forward/backward passes on its own: left out of the default statistics",
}


def _checked_tags(tags: tuple[str, ...], valid: dict[str, str], owner: str) -> frozenset[str]:
    """Return `tags` as a set; raises ValueError naming an unknown tag and the valid ones."""
    unknown = [t for t in tags if t not in valid]
    if unknown:
        raise ValueError(f"{owner} has unknown tag {unknown[0]!r}; valid: {', '.join(valid)}")
    return frozenset(tags)


@dataclass(frozen=True)
class StatisticSpec:
    """What a statistic is.

    Attributes:
        name: the statistic's name (GP terminal name, cache column, proxy name for scalars).
        kind: `layer` (a vector over weighted layers) or `scalar` (one number per network).
        pass_name: the pass that computes it.
        version: bumped whenever its definition changes.
        doc: one line saying what it measures.
        tags: what else is true of it, from STATISTIC_TAGS (`labelled`, `baseline`, ...).
    """

    name: str
    kind: Kind
    pass_name: str
    version: int
    doc: str
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PassSpec:
    """A registered pass: its function, the statistics it produces, the options it reads and its tags (PASS_TAGS)."""

    name: str
    run: Callable[[PassContext], dict[str, object]]
    produces: tuple[str, ...]
    uses: tuple[str, ...]
    tags: frozenset[str] = frozenset()


STATISTICS: Registry[StatisticSpec] = Registry("statistic")
PASSES: Registry[PassSpec] = Registry("statistics pass")


def probe_pass(name: str, produces: dict[str, tuple], uses: tuple[str, ...] = (), tags: tuple[str, ...] = ()):
    """Register a pass function producing `produces` (statistic name -> (kind, version, doc, *tags)).

    The function takes a PassContext and returns {statistic name: value}, with per-layer values as
    float arrays [L] in the context's layer order and scalars as floats. Each statistic's entry
    may end with its tags (STATISTIC_TAGS: `labelled`, `baseline`, ...); `tags` are the pass's own
    (PASS_TAGS: `lean`, `expensive`). `uses` names the StatisticsOptions fields it reads (part of
    its cache key). An unknown tag raises ValueError listing the valid ones.
    """
    pass_tags = _checked_tags(tags, PASS_TAGS, f"statistics pass {name!r}")
    specs = [StatisticSpec(stat, kind, name, version, doc, _checked_tags(stat_tags, STATISTIC_TAGS, f"statistic {stat!r}"))
             for stat, (kind, version, doc, *stat_tags) in produces.items()]

    def decorate(run: Callable[[PassContext], dict[str, object]]):
        for spec in specs:
            STATISTICS.add(spec.name, spec)
        PASSES.add(name, PassSpec(name, run, tuple(produces), uses, pass_tags))
        return run

    return decorate


def tagged(tag: str) -> list[str]:
    """Return the statistics tagged `tag` (STATISTIC_TAGS) or produced by a pass tagged `tag` (PASS_TAGS), in registration order."""
    if tag not in STATISTIC_TAGS and tag not in PASS_TAGS:
        raise GreenmachineError(f"unknown tag {tag!r}; valid: {', '.join([*STATISTIC_TAGS, *PASS_TAGS])}")
    return [s for s, spec in STATISTICS.items() if tag in spec.tags or tag in PASSES[spec.pass_name].tags]


def labelled(names: Iterable[str]) -> list[str]:
    """Return those of the statistics `names` whose values depend on the probe's labels (unknown names raise)."""
    return [name for name in names if "labelled" in STATISTICS[name].tags]


def split_by_kind(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Return the statistics `names` split into (per-layer, per-network scalar) ones, each in the given order."""
    names = list(names)
    return ([n for n in names if STATISTICS[n].kind == "layer"], [n for n in names if STATISTICS[n].kind == "scalar"])


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
