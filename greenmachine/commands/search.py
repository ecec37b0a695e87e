"""`greenmachine search`: evolve proxies, report them on archs never searched, export and log them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import SampleProtocol
from greenmachine.commands import (command, command_line, compute_settings, plain, probe_settings, statistics_settings,
                                   target_of, track)
from greenmachine.config import ConfigError, ProbeConfig, build
from greenmachine.errors import UnknownNameError
from greenmachine.gp import GPConfig
from greenmachine.gp.pset import build_pset
from greenmachine.report import format_tau
from greenmachine.search import CHECKPOINT, run_search
from greenmachine.spaces import Target, get_space
from greenmachine.statistics import STATISTICS, StatisticsOptions
from greenmachine.summaries import search_headline
from greenmachine.tasks import TaskData, prepare_task
from greenmachine.tracking import RUN_FILE, run_name
from greenmachine.workspace import Compute


def task_targets(cfg: DictConfig) -> list[Target]:
    """Return the targets of a run: the configured one, then each `also` entry (`space/dataset`, dataset defaults)."""
    targets = [target_of(cfg)]
    for entry in cfg.also:
        space, sep, dataset = str(entry).partition("/")
        if not sep:
            raise ConfigError(f"also entry {entry!r} must be 'space/dataset', e.g. 'nats_tss/cifar100'")
        targets.append(get_space(space).target(dataset))
    return targets


def evaluation_size_of(value: object) -> int | None:
    """Return an `evaluation_size` setting checked: None (the space's own), 0 (none) or a positive count of archs."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigError(f"evaluation_size={value!r}; valid: null (the space's own holdout), 0 (no evaluation holdout) "
                          "or a positive integer")
    return value


def check_gp(settings: dict, statistics: list[str]) -> GPConfig:
    """Return the `gp` section built and checked against the run's statistics, before any statistic is computed.

    Raises GreenmachineError for terminals that are empty or not among `statistics`, and for primitives
    and terminals that cannot build a per-network score.
    """
    terminals = settings.get("terminals")
    if isinstance(terminals, (list, tuple)) and not terminals:
        raise ConfigError("gp.terminals=[] names no statistic; valid: null (every statistic of the run) or a list of: "
                          + ", ".join(sorted(statistics)))
    config = build(GPConfig, settings, "gp")
    for name in config.terminals or ():
        if name not in statistics:
            raise UnknownNameError("gp.terminals statistic", name, statistics)
    kinds = {s: STATISTICS[s].kind for s in statistics}
    build_pset([s for s in statistics if kinds[s] == "layer"], [s for s in statistics if kinds[s] == "scalar"],
               config.primitives, config.terminals, config.constants)
    return config


@dataclass(frozen=True)
class TaskSettings:
    """A search's task settings, checked before any work: targets, sampling, holdouts, probe, compute."""

    targets: tuple[Target, ...]
    protocol: SampleProtocol
    evaluation_size: int | None
    probe: ProbeConfig
    compute: Compute


def task_settings(cfg: DictConfig) -> TaskSettings:
    """Return the run's task settings, checked (a bad value raises before any statistic is computed)."""
    return TaskSettings(tuple(task_targets(cfg)), build(SampleProtocol, plain(cfg, "sampling"), "sampling"),
                        evaluation_size_of(cfg.evaluation_size), probe_settings(cfg), compute_settings(cfg))


def prepare_tasks(settings: TaskSettings, statistics: list[str], options: StatisticsOptions) -> list[TaskData]:
    """Return every target of the run prepared: samples drawn, statistics cached and loaded."""
    return [prepare_task(t.space, t.dataset, t.metric, t.epochs, settings.protocol, settings.evaluation_size,
                         settings.probe, statistics, options, settings.compute) for t in settings.targets]


def search_run_name(settings: TaskSettings, gp_config: GPConfig) -> str:
    """Return the MLflow run name of a search: its tasks, sampling, population and seed.

    e.g. `search nats_tss/cifar10 · stratified n=1000 · pop 500 · seed 0`; the seed is the GP's, followed
    by the sample's where the two differ (`seed 1 (sample 0)`).
    """
    protocol = settings.protocol
    seed = f"seed {gp_config.seed}" + (f" (sample {protocol.seed})" if protocol.seed != gp_config.seed else "")
    return run_name("search", ",".join(f"{t.space}/{t.dataset}" for t in settings.targets),
                    f"{protocol.strategy} n={protocol.n}", f"pop {gp_config.population}", seed)


@command("search", "evolve proxies with GP, report them on archs never searched, export them as Python")
def search(cfg: DictConfig) -> dict[str, object]:
    """Run one search in the Hydra run folder and print where its results are.

    Its MLflow run opens before the statistics are prepared, so the run's duration is the command's.
    """
    start = time.perf_counter()
    statistics, options = statistics_settings(cfg)
    gp_config = check_gp(plain(cfg, "gp"), statistics)
    settings = task_settings(cfg)
    out = Path(HydraConfig.get().runtime.output_dir)
    first = settings.targets[0]
    names = ",".join(f"{t.space}/{t.dataset}" for t in settings.targets)
    tags = {"space": first.space, "dataset": first.dataset, "sampling": settings.protocol.strategy, "tasks": names}
    line = command_line("search")
    with track(cfg, search_run_name(settings, gp_config), tags, record=out / RUN_FILE,
               resume=(out / CHECKPOINT).is_file()) as tracker:
        opened = time.perf_counter()
        tasks = prepare_tasks(settings, statistics, options)
        prepared = time.perf_counter() - opened
        origin = {"command": line, "tasks": names, "sampling": tasks[0].sample.describe(), "output": str(out)}
        outcome = run_search(tasks, gp_config, out, tracker, options, origin, bool(cfg.progress),
                             settings.compute.device)
        wall = time.perf_counter() - start
        tracker.metrics({"wall_seconds": wall, "prepare_seconds": prepared})
        best_tree = outcome.result.hall_of_fame[0].tree if outcome.result.hall_of_fame else None
        tracker.conclude(search_headline(outcome.rows, best_tree, tasks, wall, prepared, out, line))
    found = [r for r in outcome.rows if r.kind == "found"]
    print(f"\nsearch done in {wall:.0f} s wall time, statistics included ({prepared:.0f} s preparing the tasks: "
          f"sampling, statistics passes, loading; {outcome.seconds:.0f} s GP search and report) -> {out}")
    if found:
        best = found[0]
        for task, sets in best.scores.items():
            taus = ", ".join(f"{s} {format_tau(c.kendall)}" for s, c in sets.items())
            print(f"best proxy on {task}: Kendall tau {taus}")
        print(f"formula: {best.formula}")
    print(f"report: {outcome.files['report']}  proxies: {outcome.files['proxies']}")
    return {"out": str(out), "best": found[0].formula if found else None}
