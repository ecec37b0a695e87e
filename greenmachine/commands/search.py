"""`greenmachine search`: a thin wrapper over `greenmachine.Search` (the config becomes its settings)."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from greenmachine.benchmark import SampleProtocol
from greenmachine.commands import (command, command_line, parent_run, plain, probe_settings, space_of,
                                   statistics_settings, threads_of, workers_of)
from greenmachine.config import ConfigError, build
from greenmachine.gp import GPConfig
from greenmachine.search import Search, summary
from greenmachine.search_settings import SearchSettings, check_terminals, evaluation_size_of


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
    check_terminals(config, statistics)
    return config


def settings_of(cfg: DictConfig) -> SearchSettings:
    """Return the search settings of a `greenmachine search` config, each section checked."""
    statistics, options = statistics_settings(cfg)
    names = plain(cfg, "statistics")["names"]
    return SearchSettings(
        space=space_of(cfg).name, dataset=cfg.dataset, metric=cfg.metric, epochs=cfg.epochs,
        also=tuple(str(a) for a in cfg.also), unseen=tuple(str(u) for u in cfg.get("unseen") or ()),
        sampling=build(SampleProtocol, plain(cfg, "sampling"), "sampling"),
        evaluation_size=evaluation_size_of(cfg.evaluation_size), probe=probe_settings(cfg),
        statistics=names if isinstance(names, str) else tuple(names), options=options,
        gp=check_gp(plain(cfg, "gp"), statistics))


@command("search", "evolve proxies with GP, report them on archs never searched, export them as Python")
def search(cfg: DictConfig) -> dict[str, object]:
    """Run one search in the Hydra run folder and print where its results are.

    Its MLflow run (named by SearchSettings.run_name, tagged with the command line, nested under a
    sweep's parent run) opens before the statistics are prepared, so the run's duration is the command's.
    """
    tracking = cfg.tracking
    result = Search.from_settings(
        settings_of(cfg), out=Path(HydraConfig.get().runtime.output_dir), tracking=bool(tracking.enabled),
        tracking_uri=tracking.uri, experiment=tracking.experiment, device=cfg.device, workers=workers_of(cfg.workers),
        threads=threads_of(cfg.threads), progress=bool(cfg.progress), data_dir=cfg.data_dir, cache_dir=cfg.cache_dir,
        params=plain(cfg), origin={"command": command_line("search")}, parent_run_id=parent_run(cfg)).run()
    print("\n" + summary(result))
    found = result.record.found
    return {"out": str(result.out), "best": found[0].formula if found else None}
