"""A GP search as an object: `Search(...).run()`, `Search.load(folder)`, its hall of fame, Pareto front and formulas.

```python
from greenmachine import Search
from greenmachine.gp import GPConfig

search = Search(space="nats_tss", dataset="cifar10", gp=GPConfig(population=60, generations=4)).run()
search.hall_of_fame          # pandas DataFrame, best first
search.pareto()              # size against fitness
search.latex()               # the best formula, simplified by sympy, as LaTeX
Search.load(search.out)      # the same search from its folder (run() again resumes an interrupted one)
```

A search's defaults are the `greenmachine search` command's (the command is a thin wrapper over
this class). The search loop computes; its side effects (progress bar, report files, MLflow,
checkpoint) are callbacks, and callers add their own (`callbacks=[...]`, see greenmachine.callbacks).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from greenmachine.benchmark import SampleProtocol
from greenmachine.callbacks import MLflowLogger, ProgressBar, ReportWriter
from greenmachine.compute import Compute
from greenmachine.config import ProbeConfig, resolve_device
from greenmachine.correlations import format_tau
from greenmachine.energy import EnergyMeter
from greenmachine.errors import GreenmachineError
from greenmachine.formula import to_sympy
from greenmachine.gp import GPConfig, SearchResult, evolve
from greenmachine.measurement import best_baseline_fitness, build_record, compute_spent
from greenmachine.presets import preset_options, statistic_names
from greenmachine.search_record import FINISHED, ProxyRow, SearchRecord, hall_of_fame_frame, pareto_frame, running_record
from greenmachine.search_settings import SearchSettings, check_terminals
from greenmachine.statistics import StatisticsOptions
from greenmachine.tasks import TaskData, prepare_task, searched_tasks
from greenmachine.tracking import RUN_FILE, tracked_run

CHECKPOINT = "checkpoint.pkl"  # in the run folder; a search started there resumes from it
REPORT = "report.json"


def default_folder() -> Path:
    """Return a new run folder as `greenmachine search` names one: outputs/search/<date>_<time> in the working folder."""
    return Path("outputs/search") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


class Search:
    """One GP search: its settings, where it writes, and (once run or loaded) its record.

    Args:
        space, dataset, metric, epochs, also, unseen, sampling, evaluation_size, probe, statistics, gp:
            see SearchSettings (None sections: the defaults).
        options: statistics pass settings; None: those of the `statistics` preset (`lean` uses
            smaller Zen and AZ-NAS batches, as `statistics=lean` does on the command line).
        callbacks: more callbacks, after the progress bar, report writer and MLflow logger: functions
            `(record, state) -> bool | None` or SearchCallback objects; returning True stops the run.
        out: the run folder (default: outputs/search/<date>_<time>); a search run again in its
            folder resumes from its checkpoint.
        tracking, tracking_uri, experiment: log to MLflow (the store: `tracking_uri`, else
            $MLFLOW_TRACKING_URI, else ./mlruns.db), in this experiment.
        device: `auto`, `cpu`, `cuda`, ...; workers: statistics worker processes (None: auto);
            threads: torch CPU threads per worker (None: auto, see compute.Compute.plan);
            progress: show progress bars; data_dir, cache_dir: override where data and caches are.
        params: what MLflow records as the run's params (default: the settings).
        origin: how the search was started (its `command`, e.g. the command line), recorded in its
            report and as the run's MLflow tag `command_line`.
        parent_run_id: the MLflow run this search's run is nested under (a sweep's parent run).

    Attributes:
        settings: the SearchSettings.
        out: the run folder.
        record: the SearchRecord (None until run or loaded; status `running` for an interrupted run).
        tasks: the prepared tasks of a search run in this process (statistics tables included).
        result: the GP's SearchResult of a search run in this process.
        files: the files its callbacks wrote, by key (report, hall_of_fame, proxies, ...).
    """

    def __init__(self, space: str = "nats_tss", dataset: str | None = None, *, metric: str | None = None,
                 epochs: int | None = None, also: Sequence[str] = (), unseen: Sequence[str] = (),
                 sampling: SampleProtocol | None = None,
                 evaluation_size: int | None = None, probe: ProbeConfig | None = None,
                 statistics: str | Sequence[str] = "default", options: StatisticsOptions | None = None,
                 gp: GPConfig | None = None, callbacks: Sequence[object] = (), out: str | Path | None = None,
                 tracking: bool = True, tracking_uri: str | None = None, experiment: str = "greenmachine",
                 device: str = "auto", workers: int | None = None, threads: int | None = None, progress: bool = True,
                 data_dir: str | None = None, cache_dir: str | None = None, params: Mapping[str, Any] | None = None,
                 origin: Mapping[str, str] | None = None, parent_run_id: str | None = None):
        settings = SearchSettings(space, dataset, metric, epochs, tuple(also), tuple(unseen), sampling or SampleProtocol(),
                                  evaluation_size, probe or ProbeConfig(),
                                  statistics if isinstance(statistics, str) else tuple(statistics),
                                  options or preset_options(statistics), gp or GPConfig())
        self._setup(settings, callbacks, out, tracking, tracking_uri, experiment, device, workers, threads, progress,
                    data_dir, cache_dir, params, origin, parent_run_id)

    def _setup(self, settings: SearchSettings, callbacks: Sequence[object], out: str | Path | None, tracking: bool,
               tracking_uri: str | None, experiment: str, device: str, workers: int | None, threads: int | None,
               progress: bool, data_dir: str | None, cache_dir: str | None, params: Mapping[str, Any] | None,
               origin: Mapping[str, str] | None, parent_run_id: str | None) -> None:
        self.settings = settings
        self.callbacks = list(callbacks)
        self.out = Path(out) if out is not None else default_folder()
        self.tracking = (bool(tracking), tracking_uri, experiment)
        self.compute = Compute(resolve_device(device), workers, bool(progress), data_dir, cache_dir, threads)
        self.params = dict(params) if params is not None else None
        self.origin = dict(origin or {})
        self.parent_run_id = parent_run_id
        self.record: SearchRecord | None = None
        self.tasks: list[TaskData] = []
        self.result: SearchResult | None = None
        self.files: dict[str, Path] = {}

    @classmethod
    def from_settings(cls, settings: SearchSettings, **runtime: Any) -> Search:
        """Return a search of `settings`; `runtime` takes Search's other keyword arguments (callbacks, out, device, ...)."""
        search = cls.__new__(cls)
        defaults = {"callbacks": (), "out": None, "tracking": True, "tracking_uri": None, "experiment": "greenmachine",
                    "device": "auto", "workers": None, "threads": None, "progress": True, "data_dir": None,
                    "cache_dir": None, "params": None, "origin": None, "parent_run_id": None}
        unknown = sorted(set(runtime) - set(defaults))
        if unknown:
            raise GreenmachineError(f"unknown argument(s) {', '.join(unknown)}; valid: {', '.join(sorted(defaults))}")
        search._setup(settings, **{**defaults, **runtime})
        return search

    @classmethod
    def load(cls, folder: str | Path, **runtime: Any) -> Search:
        """Return the search whose run folder is `folder`, with its record; `.run()` resumes an interrupted one.

        `runtime` takes Search's keyword arguments other than the settings (callbacks, device,
        tracking, ...). Raises DataNotFoundError when the folder holds no report.json, CorruptFileError
        when it is damaged, GreenmachineError when it records no settings (written by an older greenmachine).
        """
        from greenmachine.errors import DataNotFoundError

        folder = Path(folder)
        path = folder / REPORT
        if not path.is_file():
            raise DataNotFoundError(f"no search report at {path}; give the run folder of a greenmachine search")
        record = SearchRecord.read(path)
        if record.settings is None:
            raise GreenmachineError(f"{path} records no search settings (an older greenmachine wrote it); its proxies "
                                    "can still be exported: greenmachine export run=" + str(folder))
        search = cls.from_settings(SearchSettings.from_dict(record.settings), out=folder, **runtime)
        search.record = record
        return search

    @property
    def finished(self) -> bool:
        """Return whether the search has run to its end (its record is complete)."""
        return self.record is not None and self.record.status == FINISHED

    def _finished_record(self) -> SearchRecord:
        if not self.finished:
            state = "was interrupted" if self.record is not None else "has not run"
            raise GreenmachineError(f"the search in {self.out} {state}; call .run() to run it (it resumes from its "
                                    "checkpoint)")
        return self.record

    @property
    def hall_of_fame(self) -> pd.DataFrame:
        """Return the found proxies, best first: rank, name, size, fitness, formula (plain, simplified, LaTeX),
        expression, Kendall tau, Spearman rho and top-10 % precision on every task and set, cost per arch."""
        return hall_of_fame_frame(self._finished_record())

    def pareto(self) -> pd.DataFrame:
        """Return the size-vs-fitness front, smallest first: the best program of each size that beats every smaller
        one among all the search evaluated, with the hall of fame's columns."""
        return pareto_frame(self._finished_record())

    def proxy(self, rank: int = 1) -> ProxyRow:
        """Return the found proxy of rank `rank` (1 = best)."""
        found = self._finished_record().found
        if not 1 <= rank <= len(found):
            raise GreenmachineError(f"rank={rank}; valid: 1..{len(found)} (the hall of fame's size)")
        return found[rank - 1]

    def sympy(self, rank: int = 1):
        """Return the formula of the proxy of rank `rank` as a sympy expression, simplified."""
        return to_sympy(self.proxy(rank).expression)

    def latex(self, rank: int = 1) -> str:
        """Return the LaTeX of the simplified formula of the proxy of rank `rank`."""
        return self.proxy(rank).latex

    def searched_tasks(self) -> list[TaskData]:
        """Return the prepared tasks the GP searches: the first with the single-task fitness `kendall`, else all but
        the unseen ones."""
        return searched_tasks(self.tasks, self.settings.gp.fitness)

    def best_baseline(self) -> tuple[str, float] | None:
        """Return the baseline with the best fitness on the search archs and that fitness, of a search run in this
        process (None when no baseline ranks them); the fitness plot draws it as the line to beat."""
        return best_baseline_fitness(self._finished_record().baselines, self.searched_tasks(), self.settings.gp.fitness)

    def run(self) -> Search:
        """Run the search in its folder (resuming from its checkpoint there) and return it, its record complete."""
        start = time.perf_counter()
        settings, out = self.settings, self.out
        statistics = statistic_names(settings.statistics if isinstance(settings.statistics, str)
                                     else list(settings.statistics))
        check_terminals(settings.gp, statistics)
        targets, unseen = settings.targets(), settings.unseen_targets()
        out.mkdir(parents=True, exist_ok=True)
        resume = (out / CHECKPOINT).is_file()
        names = ",".join(t.name for t in [*targets, *unseen])
        searched = targets[:1] if settings.gp.fitness == "kendall" else targets  # as searched_tasks picks them
        origin = {"command": "greenmachine.Search (Python)", **self.origin, "tasks": names,
                  "searched": ",".join(t.name for t in searched), "output": str(out)}
        tags = {"space": targets[0].space, "dataset": targets[0].dataset, "sampling": settings.sampling.strategy,
                "tasks": names, "command_line": origin["command"]}
        if len(searched) < len(targets) + len(unseen):
            tags["unseen"] = origin["unseen"] = ",".join(t.name for t in [*targets, *unseen] if t not in searched)
        running_record(settings.to_dict(), origin).write(out / REPORT)
        enabled, uri, experiment = self.tracking
        params = self.params if self.params is not None else settings.to_dict()
        # the run opens before the statistics are prepared, so its duration is the whole search's
        with tracked_run(enabled, uri, experiment, settings.run_name(), params, tags, record=out / RUN_FILE,
                         resume=resume, parent_run_id=self.parent_run_id) as tracker:
            prepare_start = time.perf_counter()
            tasks = [prepare_task(t.space, t.dataset, t.metric, t.epochs, settings.sampling, settings.evaluation_size,
                                  settings.probe, statistics, settings.options, self.compute, is_searched)
                     for t, is_searched in [*((t, True) for t in targets), *((t, False) for t in unseen)]]
            self.tasks = [replace(t, table=t.table.to(self.compute.device)) for t in tasks]
            prepared = time.perf_counter() - prepare_start
            callbacks = ([ProgressBar()] if self.compute.progress else []) + [ReportWriter(), MLflowLogger(tracker)]
            callbacks += self.callbacks
            for callback in callbacks:
                getattr(callback, "on_start", lambda search: None)(self)
            searched = [t.subset("search") for t in self.searched_tasks()]
            meter = EnergyMeter(self.compute.device)
            mark, evolve_start = meter.mark(), time.perf_counter()
            self.result = evolve([table for table, _ in searched], [acc for _, acc in searched], settings.gp, callbacks,
                                 checkpoint=out / CHECKPOINT)
            spent = compute_spent(self.result, self.tasks, time.perf_counter() - evolve_start, meter.since(mark))
            spent["prepare_seconds"] = prepared
            record = build_record(self.result, self.tasks, settings, spent,
                                  {**origin, "run_id": tracker.run_id or "untracked"})
            # the whole search but writing its files: statistics, GP, the report's measurements and formulas
            self.record = replace(record, compute={**spent, "wall_seconds": time.perf_counter() - start})
            for callback in callbacks:
                getattr(callback, "on_end", lambda search: None)(self)
        return self


def summary(search: Search) -> str:
    """Return the lines a finished search prints: where its files are, wall time (statistics included), the best proxy."""
    record = search._finished_record()
    wall, prepared = record.compute.get("wall_seconds", np.nan), record.compute.get("prepare_seconds", np.nan)
    lines = [f"search done in {wall:.0f} s wall time, statistics included ({prepared:.0f} s preparing the tasks: "
             f"sampling, statistics passes, loading; {wall - prepared:.0f} s GP search and report) -> {search.out}"]
    found = record.found
    if found:
        best = found[0]
        for task, sets in best.scores.items():
            taus = ", ".join(f"{s} {format_tau(c.kendall)}" for s, c in sets.items())
            lines.append(f"best proxy on {task}: Kendall tau {taus}")
        lines.append(f"formula: {best.formula}")
        lines.append(f"simplified: {best.simplified}")
        chosen = record.pick
        unseen = [u for u in record.unseen if "evaluation" in chosen.scores[u]]
        if unseen:
            taus = ", ".join(f"{u} {format_tau(chosen.scores[u]['evaluation'].kendall)}" for u in unseen)
            lines.append(f"pick (best mean tau on the searched targets' holdouts): {chosen.name}; "
                         f"Kendall tau on the unseen targets' evaluation archs: {taus}")
    lines.append(f"report: {search.out / 'report.md'}  proxies: {search.out / 'proxies'}")
    return "\n".join(lines)


__all__ = ["CHECKPOINT", "REPORT", "Search", "default_folder", "summary"]
