"""`greenmachine search`: evolve proxies, report them on archs never searched, export and log them."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import SampleProtocol
from greenmachine.commands import command, compute_settings, plain, probe_settings, statistics_settings, target_of
from greenmachine.config import ConfigError, build
from greenmachine.errors import UnknownNameError
from greenmachine.gp import GPConfig
from greenmachine.gp.pset import build_pset
from greenmachine.report import format_tau
from greenmachine.search import CHECKPOINT, run_search, searched_tasks
from greenmachine.spaces import Target, get_space
from greenmachine.statistics import STATISTICS, StatisticsOptions
from greenmachine.tasks import TaskData, prepare_task
from greenmachine.tracking import RUN_FILE, tracked_run


def parse_target(entry: object, key: str) -> Target:
    """Return the target named by a `space/dataset` entry of the list `key` (dataset defaults filled in)."""
    space, sep, dataset = str(entry).partition("/")
    if not sep:
        raise ConfigError(f"{key} entry {entry!r} must be 'space/dataset', e.g. 'nats_tss/cifar100'")
    return get_space(space).target(dataset)


def task_targets(cfg: DictConfig) -> list[Target]:
    """Return the targets of a run: the configured one, then each `also` entry (`space/dataset`, dataset defaults)."""
    return [target_of(cfg), *(parse_target(entry, "also") for entry in cfg.also)]


def unseen_targets(cfg: DictConfig, searched: list[Target]) -> list[Target]:
    """Return the run's `unseen` targets: reported on their evaluation holdouts, never searched nor used to pick.

    Raises ConfigError for a target that is also searched, or when there is no evaluation holdout to report on.
    """
    unseen = [parse_target(entry, "unseen") for entry in cfg.get("unseen") or ()]
    names = {(t.space, t.dataset) for t in searched}
    for target in unseen:
        if (target.space, target.dataset) in names:
            raise ConfigError(f"unseen target {target.space}/{target.dataset} is also searched (the run's space/dataset "
                              "or an `also` entry); a target is either searched or unseen")
    if unseen and cfg.evaluation_size == 0:
        raise ConfigError("evaluation_size=0 leaves the unseen targets nothing to report on; valid with `unseen`: "
                          "null (each space's own holdout) or a positive integer")
    return unseen


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


def prepare_tasks(cfg: DictConfig, statistics: list[str], options: StatisticsOptions) -> list[TaskData]:
    """Return every target of the run prepared: samples drawn, statistics cached and loaded; unseen targets last."""
    protocol = build(SampleProtocol, plain(cfg, "sampling"), "sampling")
    probe = probe_settings(cfg)
    compute = compute_settings(cfg)
    evaluation_size = evaluation_size_of(cfg.evaluation_size)
    searched = task_targets(cfg)
    targets = [(t, True) for t in searched] + [(t, False) for t in unseen_targets(cfg, searched)]
    return [prepare_task(t.space, t.dataset, t.metric, t.epochs, protocol, evaluation_size, probe, statistics, options,
                         compute, is_searched) for t, is_searched in targets]


@command("search", "evolve proxies with GP, report them on archs never searched, export them as Python")
def search(cfg: DictConfig) -> dict[str, object]:
    """Run one search in the Hydra run folder and print where its results are."""
    statistics, options = statistics_settings(cfg)
    gp_config = check_gp(plain(cfg, "gp"), statistics)
    tasks = prepare_tasks(cfg, statistics, options)
    out = Path(HydraConfig.get().runtime.output_dir)
    first = tasks[0]
    tags = {"space": first.space, "dataset": first.dataset, "sampling": first.sample.protocol.strategy,
            "tasks": ",".join(t.name for t in tasks)}
    searched = [t.name for t in searched_tasks(tasks, gp_config.fitness)]
    unseen = [t.name for t in tasks if t.name not in searched]
    origin = {"command": "greenmachine search " + " ".join(HydraConfig.get().overrides.task),
              "tasks": tags["tasks"], "searched": ",".join(searched), "sampling": first.sample.describe(),
              "output": str(out)}
    if unseen:
        tags["unseen"] = origin["unseen"] = ",".join(unseen)
    tracking = cfg.tracking
    with tracked_run(bool(tracking.enabled), tracking.uri, tracking.experiment, f"search {tags['tasks']}",
                     plain(cfg), tags, record=out / RUN_FILE, resume=(out / CHECKPOINT).is_file()) as tracker:
        outcome = run_search(tasks, gp_config, out, tracker, options, origin, bool(cfg.progress),
                             compute_settings(cfg).device)
    found = [r for r in outcome.rows if r.kind == "found"]
    print(f"\nsearch done in {outcome.seconds:.0f} s -> {out}")
    if found:
        best = found[0]
        for task, sets in best.scores.items():
            taus = ", ".join(f"{s} {format_tau(c.kendall)}" for s, c in sets.items())
            print(f"best proxy on {task}: Kendall tau {taus}")
        print(f"formula: {best.formula}")
    print(f"report: {outcome.files['report']}  proxies: {outcome.files['proxies']}")
    return {"out": str(out), "best": found[0].formula if found else None}
