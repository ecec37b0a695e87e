"""What a search found, as typed data: `report.json` is its serialisation, and every file of a run is rendered from it.

A `SearchRecord` holds the search's settings, the tasks it saw, every found proxy, baseline and
Pareto-front program with its correlations on each task and set, the compute it spent and its
generation log. `greenmachine export`, `Search.load` and the report files all read it, never loose dicts.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import pandas as pd

from greenmachine.correlations import Correlation, best_by_tau, format_tau, rank_by_tau
from greenmachine.energy import ESTIMATED, energy_from_metrics, power_model
from greenmachine.errors import CorruptFileError, describe
from greenmachine.export import ExportedProxy, proxy_name
from greenmachine.files import atomic_write_text
from greenmachine.formula import statistics_of
from greenmachine.gp.evolve import GenerationRecord
from greenmachine.markdown import markdown_table
from greenmachine.tasks import SETS

METRICS = {"kendall": "kendall", "spearman": "spearman", "top10": "top10"}
"""Correlation field -> column suffix in the hall of fame and Pareto tables (`<task>:<set>:kendall`, ...)."""
REPORT_KEYS = ("options", "tasks", "proxies")
RUNNING, FINISHED = "running", "finished"


@dataclass(frozen=True)
class ProxyRow:
    """A proxy of a search report with its correlations per task and set.

    Attributes:
        name: `proxy_<rank>` (found), the baseline's name, or `size_<n>` (Pareto front).
        kind: `found`, `baseline` or `pareto`.
        expression: its `gp.render.to_python` expression (a baseline: its name).
        formula: readable math (`gp.render.to_math`).
        size: number of nodes.
        scores: task name -> set name -> Correlation.
        fitness: its fitness on the search archs (NaN for baselines).
        simplified: the formula simplified by sympy.
        latex: its LaTeX.
        seconds_per_arch, joules_per_arch: mean recorded cost of the statistics passes it reads, per
            arch of the first task (joules measured where a counter exists, else estimated).
    """

    name: str
    kind: str
    expression: str
    formula: str
    size: int
    scores: dict[str, dict[str, Correlation]]
    fitness: float = math.nan
    simplified: str = ""
    latex: str = ""
    seconds_per_arch: float = math.nan
    joules_per_arch: float = math.nan

    @property
    def statistics(self) -> tuple[str, ...]:
        """Return the statistics the proxy reads (from its expression)."""
        return statistics_of(self.expression)

    def taus(self) -> dict[str, float]:
        """Return Kendall tau by `<task>:<set>`."""
        return {f"{task}:{s}": c.kendall for task, sets in self.scores.items() for s, c in sets.items()}

    def mean_tau(self, set_name: str, tasks: Sequence[str] | None = None) -> float:
        """Return the mean Kendall tau over the tasks (all, or those named in `tasks`) that have the set `set_name`
        (NaN if none)."""
        values = [sets[set_name].kendall for task, sets in self.scores.items()
                  if set_name in sets and (tasks is None or task in tasks)]
        return float(sum(values) / len(values)) if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Return the row as JSON-ready values."""
        values = asdict(self)
        values["scores"] = {task: {s: asdict(c) for s, c in sets.items()} for task, sets in self.scores.items()}
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ProxyRow:
        """Return the row of `to_dict`'s values (older reports lack the optional fields)."""
        values = dict(values)
        values["scores"] = {task: {s: Correlation(**c) for s, c in sets.items()} for task, sets in values["scores"].items()}
        return cls(**values)


@dataclass(frozen=True)
class TaskSummary:
    """A task of a search as its report states it.

    Attributes:
        name: `space/dataset`.
        metric, epochs: the accuracy it was judged on.
        sample: the sample's protocol and realised strata (`Sample.to_dict`).
        sets: set name -> number of archs.
        dropped: archs left out for failed statistics.
        probe: the probe's settings.
        description: one sentence saying how the sample was drawn.
        searched: whether the search evolved on it: False for an `unseen` target (no search sample or
            holdout; reported on its evaluation holdout, never read to pick) and for the `also` targets
            of a single-task (`kendall`) search.
    """

    name: str
    metric: str
    epochs: int
    sample: dict[str, Any]
    sets: dict[str, int]
    dropped: int
    probe: dict[str, Any]
    description: str = ""
    searched: bool = True

    def marked(self) -> str:
        """Return the task's name marked `(searched)` or `(unseen)`."""
        return f"{self.name} ({'searched' if self.searched else 'unseen'})"


@dataclass(frozen=True)
class SearchRecord:
    """Everything a search found and how (see the module docstring).

    Attributes:
        status: `running` (settings only, while it runs or after it was interrupted) or `finished`.
        settings: the search's settings as plain values (`SearchSettings.to_dict`); None in reports
            of greenmachine versions that did not record them.
        options: statistics pass settings.
        compute: what it cost (statistics passes, seconds, joules, program evaluations, ...).
        origin: where it came from (command, tasks, run id, output folder).
        tasks: the tasks, the searched one first.
        proxies: found proxies (best first), then baselines.
        pareto: the size-vs-fitness front, smallest first.
        log: the generation records as plain values.
    """

    status: str = FINISHED
    settings: dict[str, Any] | None = None
    options: dict[str, int] = field(default_factory=dict)
    compute: dict[str, float] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    tasks: tuple[TaskSummary, ...] = ()
    proxies: tuple[ProxyRow, ...] = ()
    pareto: tuple[ProxyRow, ...] = ()
    log: tuple[dict[str, Any], ...] = ()

    @property
    def found(self) -> list[ProxyRow]:
        """Return the found proxies, best first."""
        return [r for r in self.proxies if r.kind == "found"]

    @property
    def baselines(self) -> list[ProxyRow]:
        """Return the baselines."""
        return [r for r in self.proxies if r.kind == "baseline"]

    @property
    def searched(self) -> list[str]:
        """Return the names of the targets the search evolved on."""
        return [t.name for t in self.tasks if t.searched]

    @property
    def unseen(self) -> list[str]:
        """Return the names of the targets it did not evolve on (`unseen` ones, and `also` ones of a `kendall` search)."""
        return [t.name for t in self.tasks if not t.searched]

    @property
    def pick(self) -> ProxyRow | None:
        """Return the found proxy with the best mean Kendall tau on the searched targets' holdouts (their search sets
        when there is no holdout); None when nothing was found.

        Unseen targets never enter the choice, so what the pick scores there is a transfer measurement.
        """
        found, searched = self.found, self.searched
        if not found:
            return None
        set_name = "holdout" if any("holdout" in found[0].scores[t] for t in searched) else "search"
        return best_by_tau(found, lambda r: r.mean_tau(set_name, searched))

    def generations(self) -> list[GenerationRecord]:
        """Return the generation log as records."""
        return [GenerationRecord(**r) for r in self.log]

    def to_json(self) -> str:
        """Return the record as the text of report.json."""
        payload = asdict(self)
        payload["proxies"] = [r.to_dict() for r in self.proxies]
        payload["pareto"] = [r.to_dict() for r in self.pareto]
        payload["pick"] = self.pick.name if self.pick is not None else None  # derived: read() recomputes it
        return json.dumps(payload, indent=2)

    @classmethod
    def read(cls, path: str | Path) -> SearchRecord:
        """Return the record in report.json at `path`.

        Raises CorruptFileError naming the file if it is empty, truncated or not a search report.
        """
        path = Path(path)
        remedy = "rerun the search in its folder to write it again (it resumes from its checkpoint)"
        try:
            payload = json.loads(path.read_text())
        except (UnicodeDecodeError, ValueError) as exc:
            raise CorruptFileError(path, describe(exc), remedy) from exc
        if isinstance(payload, dict) and payload.get("status") == RUNNING and isinstance(payload.get("settings"), dict):
            return cls(status=RUNNING, settings=payload["settings"], origin=payload.get("origin") or {})
        missing = [k for k in REPORT_KEYS if k not in payload] if isinstance(payload, dict) else list(REPORT_KEYS)
        if missing or not payload["tasks"]:
            raise CorruptFileError(path, f"it is not a search report: no {', '.join(missing) or 'tasks'}", remedy)
        try:
            return cls(status=payload.get("status", FINISHED), settings=payload.get("settings"),
                       options=payload["options"], compute=payload.get("compute", {}),
                       origin=payload.get("origin") or {},
                       tasks=tuple(TaskSummary(**t) for t in payload["tasks"]),
                       proxies=tuple(ProxyRow.from_dict(r) for r in payload["proxies"]),
                       pareto=tuple(ProxyRow.from_dict(r) for r in payload.get("pareto", ())),
                       log=tuple(payload.get("log", ())))
        except (TypeError, KeyError, AttributeError) as exc:
            raise CorruptFileError(path, f"a field is missing or of the wrong kind ({describe(exc)})", remedy) from exc

    def write(self, path: str | Path) -> Path:
        """Write the record to `path` (report.json) atomically and return the path."""
        atomic_write_text(Path(path), self.to_json())
        return Path(path)

    def exported(self, row: ProxyRow, name: str | None = None) -> ExportedProxy:
        """Return what the exported module of found proxy `row` records (named `name`, default the row's name)."""
        seed = int(self.tasks[0].probe.get("seed", 0)) if self.tasks else 0
        return ExportedProxy(proxy_name(name or row.name), row.formula, row.expression, row.statistics, seed,
                             self.options, self.origin, row.taus(), row.simplified, row.latex)


def _frame(rows: list[ProxyRow], tasks: tuple[TaskSummary, ...], first: dict[str, list]) -> pd.DataFrame:
    """Return rows as a table: the `first` columns, formulas, correlations per task and set, cost per arch."""
    columns: dict[str, list] = dict(first)
    columns.update({"formula": [r.formula for r in rows], "simplified": [r.simplified for r in rows],
                    "latex": [r.latex for r in rows], "expression": [r.expression for r in rows]})
    for task in tasks:
        for s in SETS:
            if not task.sets.get(s):
                continue
            for attribute, suffix in METRICS.items():
                columns[f"{task.name}:{s}:{suffix}"] = [getattr(r.scores[task.name][s], attribute) for r in rows]
    columns["seconds_per_arch"] = [r.seconds_per_arch for r in rows]
    columns["joules_per_arch"] = [r.joules_per_arch for r in rows]
    return pd.DataFrame(columns)


def hall_of_fame_frame(record: SearchRecord) -> pd.DataFrame:
    """Return the found proxies as a table, best first: rank, name, size, fitness, formulas, correlations, cost."""
    rows = record.found
    return _frame(rows, record.tasks, {"rank": list(range(1, len(rows) + 1)), "name": [r.name for r in rows],
                                       "size": [r.size for r in rows], "fitness": [r.fitness for r in rows]})


def pareto_frame(record: SearchRecord) -> pd.DataFrame:
    """Return the size-vs-fitness front as a table, smallest first (PySR's complexity/loss table)."""
    rows = list(record.pareto)
    return _frame(rows, record.tasks, {"size": [r.size for r in rows], "fitness": [r.fitness for r in rows]})


def render_markdown(record: SearchRecord) -> str:
    """Return report.md: compute spent, per task the best found proxies against the best baseline, and the formulas."""
    spent = record.compute
    statistics_energy, search_energy = (energy_from_metrics(spent, what) for what in ("statistics", "search"))
    joules = f", {statistics_energy}" if statistics_energy is not None else ""
    search_joules = f" ({search_energy})" if search_energy is not None else ""
    wall = f" The whole run took {spent['wall_seconds']:.1f} s, statistics included." if "wall_seconds" in spent else ""
    lines = ["# Search report", "",
             f"Compute spent: statistics of {spent['statistics_passes']:.0f} archs, "
             f"{spent['statistics_seconds']:.0f} s of recorded pass time{joules}; "
             f"{spent['program_evaluations']:.0f} program evaluations (+{spent['memo_hits']:.0f} answered by the memo) "
             f"in {spent['search_seconds']:.1f} s of search{search_joules}.{wall}", ""]
    if ESTIMATED in {e.source for e in (statistics_energy, search_energy) if e is not None}:
        lines += [f"Estimated joules: CodeCarbon's process model, {power_model().describe()} (docs/energy.md).", ""]
    found, baselines = record.found, record.baselines
    lines += transfer_lines(record)
    for t in record.tasks:
        lines += [f"## {t.marked()} ({t.metric} accuracy, {t.epochs} epochs)", ""]
        if t.sets.get("search"):
            lines += [f"Sampling: {t.description}", ""]
        lines += [f"Sets: search {t.sets['search']} archs, holdout {t.sets['holdout']} (same protocol, disjoint), "
                  f"evaluation {t.sets['evaluation']} (fixed random holdout of the space, never searched). "
                  f"Archs dropped for failed statistics: {t.dropped}.", ""]
        present = [s for s in SETS if t.sets.get(s)]
        best = best_by_tau(baselines, lambda r: r.scores[t.name][present[0]].kendall)
        params = next((r for r in baselines if r.name == "params"), None)
        table = []
        for r in found[:5] + [r for r in (best, params) if r is not None and r not in found]:
            label = f"{r.name} (best baseline on {present[0]})" if r is best else r.name
            ev = r.scores[t.name].get("evaluation")
            extra = [format_tau(ev.spearman), format_tau(ev.top10)] if ev else ["", ""]
            cost = f"{r.seconds_per_arch:.3f}" if math.isfinite(r.seconds_per_arch) else ""
            table.append([label, *(format_tau(r.scores[t.name][s].kendall) for s in present), *extra, cost])
        lines += [markdown_table(["proxy", *(f"{s} tau" for s in present), "evaluation rho", "evaluation top-10%",
                                  "s/arch"], table)]
        lines += ["", "All baselines on the evaluation set (Kendall tau):", "",
                  ", ".join(f"{r.name} {format_tau(r.scores[t.name]['evaluation'].kendall)}" for r in
                            rank_by_tau(baselines, lambda r: (r.scores[t.name].get('evaluation') or r.scores[t.name][present[0]]).kendall)
                            if "evaluation" in r.scores[t.name]), ""]
    lines += ["## Formulas", "", "Simplified by sympy (the code protects log, division and square root; "
              "`sum_l`, `mean_l`, ... reduce over a network's weighted layers, l/L is a layer's relative depth):", ""]
    for r in found[:5]:
        lines += [f"**{r.name}** (size {r.size}): `{r.formula}`", "", f"$$ {r.latex} $$" if r.latex else "", ""]
    if record.pareto:
        lines += ["## Pareto front (size against fitness on the search archs)", "",
                  markdown_table(["size", "fitness", "formula"],
                                 [[r.size, f"{r.fitness:.4f}", f"${r.latex}$"] for r in record.pareto]), ""]
    return "\n".join(lines)


def transfer_lines(record: SearchRecord) -> list[str]:
    """Return report.md's transfer table: Kendall tau of the pick and the baselines on every target, marked.

    A searched target shows its holdout (its search set if none), any other its evaluation holdout.
    Empty when there is a single target or nothing was found (nothing transfers).
    """
    chosen, searched = record.pick, record.searched
    if len(record.tasks) < 2 or chosen is None:
        return []
    shown = {t.name: ("holdout" if t.searched and t.sets.get("holdout") else "search" if t.searched else "evaluation")
             for t in record.tasks}
    lines = ["## Transfer: every target, searched or unseen", "",
             f"Pick: `{chosen.name}`, the best mean Kendall tau on the searched targets' holdouts "
             f"({', '.join(searched)}); unseen targets took no part in the search or the pick. Kendall tau on each "
             "searched target's holdout and each unseen target's evaluation holdout.", ""]
    rows = [[f"{r.name}{' (pick)' if r is chosen else ''}",
             *(format_tau(r.scores[t.name][shown[t.name]].kendall) if shown[t.name] in r.scores[t.name] else ""
               for t in record.tasks)] for r in [chosen, *record.baselines]]
    return lines + [markdown_table(["proxy", *(t.marked() for t in record.tasks)], rows), ""]


def running_record(settings: dict[str, Any], origin: dict[str, str]) -> SearchRecord:
    """Return the record a search writes when it starts: its settings, so an interrupted run can be reopened."""
    return replace(SearchRecord(), status=RUNNING, settings=settings, origin=origin)
