"""`greenmachine search`: evolve proxies, report them on archs never searched, export and log them."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import SampleProtocol
from greenmachine.commands import command, compute_settings, plain, probe_settings, statistics_settings, target_of
from greenmachine.config import ConfigError, build
from greenmachine.gp import GPConfig
from greenmachine.search import run_search
from greenmachine.spaces import Target, get_space
from greenmachine.statistics import StatisticsOptions
from greenmachine.tasks import TaskData, prepare_task
from greenmachine.tracking import tracked_run


def task_targets(cfg: DictConfig) -> list[Target]:
    """Return the targets of a run: the configured one, then each `also` entry (`space/dataset`, dataset defaults)."""
    targets = [target_of(cfg)]
    for entry in cfg.also:
        space, sep, dataset = str(entry).partition("/")
        if not sep:
            raise ConfigError(f"also entry {entry!r} must be 'space/dataset', e.g. 'nats_tss/cifar100'")
        targets.append(get_space(space).target(dataset))
    return targets


def prepare_tasks(cfg: DictConfig, statistics: list[str], options: StatisticsOptions) -> list[TaskData]:
    """Return every target of the run prepared: samples drawn, statistics cached and loaded."""
    protocol = build(SampleProtocol, plain(cfg, "sampling"), "sampling")
    probe = probe_settings(cfg)
    compute = compute_settings(cfg)
    evaluation_size = None if cfg.evaluation_size is None else int(cfg.evaluation_size)
    return [prepare_task(t.space, t.dataset, t.metric, t.epochs, protocol, evaluation_size, probe, statistics, options,
                         compute) for t in task_targets(cfg)]


@command("search", "evolve proxies with GP, report them on archs never searched, export them as Python")
def search(cfg: DictConfig) -> dict[str, object]:
    """Run one search in the Hydra run folder and print where its results are."""
    statistics, options = statistics_settings(cfg)
    gp_config = build(GPConfig, plain(cfg, "gp"), "gp")
    tasks = prepare_tasks(cfg, statistics, options)
    out = Path(HydraConfig.get().runtime.output_dir)
    first = tasks[0]
    tags = {"space": first.space, "dataset": first.dataset, "sampling": first.sample.protocol.strategy,
            "tasks": ",".join(t.name for t in tasks)}
    origin = {"command": "greenmachine search " + " ".join(HydraConfig.get().overrides.task),
              "tasks": tags["tasks"], "sampling": first.sample.describe(), "output": str(out)}
    tracking = cfg.tracking
    with tracked_run(bool(tracking.enabled), tracking.uri, tracking.experiment, f"search {tags['tasks']}",
                     plain(cfg), tags) as tracker:
        outcome = run_search(tasks, gp_config, out, tracker, options, origin, bool(cfg.progress),
                             compute_settings(cfg).device)
    found = [r for r in outcome.rows if r.kind == "found"]
    print(f"\nsearch done in {outcome.seconds:.0f} s -> {out}")
    if found:
        best = found[0]
        for task, sets in best.scores.items():
            taus = ", ".join(f"{s} {c.kendall:.3f}" for s, c in sets.items())
            print(f"best proxy on {task}: Kendall tau {taus}")
        print(f"formula: {best.formula}")
    print(f"report: {outcome.files['report']}  proxies: {outcome.files['proxies']}")
    return {"out": str(out), "best": found[0].formula if found else None}
