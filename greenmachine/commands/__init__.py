"""The `greenmachine` subcommands: one module each, registered with `command`; each takes a Hydra config."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from greenmachine import conf_store  # noqa: F401  (stores the dataclass defaults the packaged config includes)
from greenmachine.compute import Compute
from greenmachine.config import ConfigError, ProbeConfig, build, resolve_device
from greenmachine.presets import statistic_names
from greenmachine.proxies.base import Proxy
from greenmachine.registry import Registry
from greenmachine.scoring import resolve_proxies as proxies_of  # noqa: F401  (the commands' name for it)
from greenmachine.spaces import SearchSpace, Target, space_from_config
from greenmachine.statistics import StatisticsOptions
from greenmachine.tracking import Tracker, sweep_parent, tracked_run


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line summary and the function that runs it on its config."""

    summary: str
    run: Callable[[DictConfig], object]


COMMANDS: Registry[Command] = Registry("command")


def note_own_settings(proxies: list[Proxy], options: StatisticsOptions) -> None:
    """Print a note for each discovered proxy that is measured with its own pass settings, not this run's."""
    for proxy in proxies:
        if proxy.options is None or proxy.options == options:
            continue
        own = {k: v for k, v in proxy.options.settings().items() if options.settings()[k] != v}
        print(f"note: {proxy.name} is measured with the statistics settings it was found with, {own}, "
              f"not this run's {({k: options.settings()[k] for k in own})}", file=sys.stderr)


def command(name: str, summary: str):
    """Register a subcommand; its Hydra config is `conf/<name>.yaml`."""

    def decorate(fn: Callable[[DictConfig], object]):
        COMMANDS.add(name, Command(summary, fn))
        return fn

    return decorate


def plain(cfg: DictConfig, key: str | None = None) -> dict:
    """Return a config section (or the whole config) as resolved plain Python values."""
    node = cfg if key is None else cfg[key]
    return OmegaConf.to_container(node, resolve=True)


def space_of(cfg: DictConfig) -> SearchSpace:
    """Return the config's space: a registered one by `space.name`, or a plug-in by `space._target_` (registered now)."""
    return space_from_config(plain(cfg, "space"))


def target_of(cfg: DictConfig) -> Target:
    """Return the config's target: its space and `dataset`, with `metric` and `epochs` defaulting to the dataset's."""
    return space_of(cfg).target(cfg.dataset, cfg.metric, cfg.epochs)


def statistics_settings(cfg: DictConfig) -> tuple[list[str], StatisticsOptions]:
    """Return the statistic names and pass options of the config's `statistics` section, checked."""
    section = plain(cfg, "statistics")
    names = statistic_names(section.pop("names"))
    return names, build(StatisticsOptions, section, "statistics")


def probe_settings(cfg: DictConfig) -> ProbeConfig:
    """Return the config's `probe` section, checked."""
    return build(ProbeConfig, plain(cfg, "probe"), "probe")


def count_of(key: str, value: object, unit: str) -> int | None:
    """Return an `auto`-or-count setting as a positive count (None for `auto`); raises ConfigError naming the valid forms."""
    if value == "auto":
        return None
    count = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"{key}={value!r}; valid: auto or a positive integer ({unit})")
    return count


def workers_of(value: object) -> int | None:
    """Return a `workers` setting as a count of worker processes (None for `auto`); raises ConfigError naming the valid forms."""
    return count_of("workers", value, "worker processes")


def threads_of(value: object) -> int | None:
    """Return a `threads` setting as torch CPU threads per worker (None for `auto`); raises ConfigError naming the valid forms."""
    return count_of("threads", value, "torch CPU threads per worker")


def compute_settings(cfg: DictConfig) -> Compute:
    """Return where the config says to compute statistics (device, workers, threads) and find data and caches."""
    return Compute(resolve_device(cfg.device), workers_of(cfg.workers), bool(cfg.get("progress", True)), cfg.data_dir,
                   cfg.cache_dir, threads_of(cfg.get("threads", "auto")))


def command_line(name: str) -> str:
    """Return the command line that ran this Hydra job, `greenmachine <name> <overrides>` (a sweep's job: its own values)."""
    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return " ".join(["greenmachine", name, *overrides])


def parent_run(cfg: DictConfig) -> str | None:
    """Return the MLflow run a command's run nests under: its `--multirun` sweep's parent run (None outside a sweep)."""
    return sweep_parent(cfg.tracking.uri) if cfg.tracking.enabled else None


def track(cfg: DictConfig, name: str, tags: Mapping[str, str], record: Path | None = None,
          resume: bool = True) -> AbstractContextManager[Tracker]:
    """Return the MLflow run of a command as its `tracking` section says (see tracking.tracked_run).

    `name` is the run's name (tracking.run_name), starting with the command. The run gets the tag
    `command_line`, and in a `--multirun` sweep it is nested under the sweep's parent run (`parent_run`).
    (`greenmachine search` runs a `greenmachine.Search`, which opens its run itself with the same tag and parent.)
    """
    tracking = cfg.tracking
    return tracked_run(bool(tracking.enabled), tracking.uri, tracking.experiment, name, plain(cfg),
                       {"command_line": command_line(name.split()[0]), **tags}, record=record, resume=resume,
                       parent_run_id=parent_run(cfg))


from greenmachine.commands import cache, data, ensemble, evaluate, export, info, search  # noqa: E402,F401  (registers the commands)
