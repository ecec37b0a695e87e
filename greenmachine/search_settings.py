"""What a search searches and how: `SearchSettings`, its targets, and the checks made before any statistic is computed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from greenmachine.benchmark import SampleProtocol
from greenmachine.config import ConfigError, ProbeConfig, build
from greenmachine.errors import UnknownNameError
from greenmachine.gp import GPConfig
from greenmachine.gp.pset import build_pset
from greenmachine.spaces import Target, get_space
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.core import split_by_kind
from greenmachine.tracking import run_name


@dataclass(frozen=True)
class SearchSettings:
    """What a search searches and how; its defaults are `greenmachine search`'s.

    Attributes:
        space, dataset, metric, epochs: the searched target (None: the space's first dataset and that
            dataset's metric and epochs).
        also: more targets, each `space/dataset`, reported (cross-transfer) or, with a multi-task
            fitness, searched too.
        unseen: targets (`space/dataset`) that get no search sample, only their evaluation holdout:
            reported on, never searched and never read to pick from the hall of fame (docs/transfer.md).
        sampling: how the search sample and its disjoint holdout are drawn.
        evaluation_size: the fixed random evaluation holdout of each space (None: the space's own, 0: none).
        probe: the probe batch.
        statistics: `default`, `lean`, `all` or a list of statistic names (the GP's terminals).
        options: statistics pass settings.
        gp: the GP's settings.
    """

    space: str = "nats_tss"
    dataset: str | None = None
    metric: str | None = None
    epochs: int | None = None
    also: tuple[str, ...] = ()
    unseen: tuple[str, ...] = ()
    sampling: SampleProtocol = field(default_factory=SampleProtocol)
    evaluation_size: int | None = None
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    statistics: str | tuple[str, ...] = "default"
    options: StatisticsOptions = field(default_factory=StatisticsOptions)
    gp: GPConfig = field(default_factory=GPConfig)

    def __post_init__(self) -> None:
        for name in ("also", "unseen", "statistics"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        evaluation_size_of(self.evaluation_size)

    def targets(self) -> list[Target]:
        """Return the targets: the searched one, then each `also` entry (`space/dataset`, dataset defaults)."""
        return [get_space(self.space).target(self.dataset, self.metric, self.epochs),
                *(parse_target(entry, "also") for entry in self.also)]

    def unseen_targets(self) -> list[Target]:
        """Return the `unseen` targets: reported on their evaluation holdouts, never searched nor used to pick.

        Raises ConfigError for a target that is also searched, or when there is no evaluation holdout to report on.
        """
        unseen = [parse_target(entry, "unseen") for entry in self.unseen]
        names = {(t.space, t.dataset) for t in self.targets()}
        for target in unseen:
            if (target.space, target.dataset) in names:
                raise ConfigError(f"unseen target {target.space}/{target.dataset} is also searched (the run's "
                                  "space/dataset or an `also` entry); a target is either searched or unseen")
        if unseen and self.evaluation_size == 0:
            raise ConfigError("evaluation_size=0 leaves the unseen targets nothing to report on; valid with `unseen`: "
                              "null (each space's own holdout) or a positive integer")
        return unseen

    def run_name(self) -> str:
        """Return the MLflow run name of the search: its tasks, sampling, population and seed.

        e.g. `search nats_tss/cifar10 · stratified n=1000 · pop 500 · seed 0`; the seed is the GP's, followed
        by the sample's where the two differ (`seed 1 (sample 0)`).
        """
        protocol, gp_config = self.sampling, self.gp
        seed = f"seed {gp_config.seed}" + (f" (sample {protocol.seed})" if protocol.seed != gp_config.seed else "")
        return run_name("search", ",".join(t.name for t in self.targets()), f"{protocol.strategy} n={protocol.n}",
                        f"pop {gp_config.population}", seed)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values (`from_dict` reads them back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SearchSettings:
        """Return settings from `to_dict`'s values, each section checked (ConfigError names a bad key)."""
        values = dict(values)
        sections = {"sampling": SampleProtocol, "probe": ProbeConfig, "options": StatisticsOptions, "gp": GPConfig}
        for key, cls_ in sections.items():
            if key in values:
                values[key] = build(cls_, values[key], key)
        return build(cls, values, "search")


def parse_target(entry: object, key: str) -> Target:
    """Return the target named by a `space/dataset` entry of the list `key` (dataset defaults filled in)."""
    space, sep, dataset = str(entry).partition("/")
    if not sep:
        raise ConfigError(f"{key} entry {entry!r} must be 'space/dataset', e.g. 'nats_tss/cifar100'")
    return get_space(space).target(dataset)


def evaluation_size_of(value: object) -> int | None:
    """Return an `evaluation_size` setting checked: None (the space's own), 0 (none) or a positive count of archs."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigError(f"evaluation_size={value!r}; valid: null (the space's own holdout), 0 (no evaluation holdout) "
                          "or a positive integer")
    return value


def check_terminals(config: GPConfig, statistics: Sequence[str]) -> None:
    """Raise GreenmachineError for GP terminals that are not among `statistics`, and for primitives and terminals
    that cannot build a per-network score; checked before any statistic is computed."""
    for name in config.terminals or ():
        if name not in statistics:
            raise UnknownNameError("gp.terminals statistic", name, statistics)
    build_pset(*split_by_kind(statistics), config.primitives, config.terminals, config.constants)
