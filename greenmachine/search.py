"""Run a GP search over prepared tasks and write what it found: hall of fame, report, proxies, plots."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from greenmachine.energy import ESTIMATED, Energy, EnergyMeter, energy_from_metrics, power_model, total_energy
from greenmachine.errors import CorruptFileError, describe
from greenmachine.export import ExportedProxy, write_module
from greenmachine.gp import GenerationRecord, GPConfig, SearchResult, bind, compile_program, evolve, to_math, to_python
from greenmachine.gp.fitness import FITNESSES, Task
from greenmachine.gp.render import terminals_of
from greenmachine.report import (Correlation, baseline_names, best_by_tau, correlation, format_tau, plot_fitness,
                                 plot_scatter, rank_by_tau, score_baselines)
from greenmachine.statistics import StatisticsOptions
from greenmachine.statistics.cache import atomic_write_text
from greenmachine.tasks import SETS, TaskData
from greenmachine.tracking import Tracker


@dataclass(frozen=True)
class ProxyRow:
    """One line of a search report: a proxy's correlations per task and set."""

    name: str
    kind: str  # "found", "baseline" or "best baseline"
    expression: str
    formula: str
    size: int
    scores: dict[str, dict[str, Correlation]]  # task name -> set name -> Correlation


@dataclass(frozen=True)
class SearchOutcome:
    """What `run_search` produced: the GP result, the report rows and the files written."""

    result: SearchResult
    rows: tuple[ProxyRow, ...]
    files: dict[str, Path]
    seconds: float


def _progress(config: GPConfig, tracker: Tracker, enabled: bool):
    """Return a progress bar, the per-generation callback, and `log(record)`, which logs a generation once.

    A resumed run's tracker already holds the generations logged before the kill; `log` skips those,
    so calling it with every record of the finished search fills in any generation that was
    checkpointed but not logged, and the run has exactly one point per generation.
    """
    bar = tqdm(total=config.generations + 1, desc="GP generations (best/median Kendall tau on search archs)", unit="gen",
               disable=not enabled, dynamic_ncols=True)
    logged = tracker.logged_steps("best_tau") if tracker.resumed else set()
    first = True

    def log(record: GenerationRecord) -> None:
        if record.generation in logged:
            return
        tracker.metrics({
            "best_tau": record.best_fitness,
            "median_tau": record.median_fitness if np.isfinite(record.median_fitness) else -1.0,
            "mean_tree_size": record.mean_size,
            "distinct_programs": record.distinct,
            "cache_hits": record.memo_hits,
            "unique_evaluations": record.unique_evaluations,
            "evaluations_per_second": record.evaluations_per_second,
        }, step=record.generation)
        logged.add(record.generation)

    def callback(record: GenerationRecord) -> None:
        nonlocal first
        bar.n = record.generation + 1
        bar.set_postfix(best=f"{record.best_fitness:.4f}", median=f"{record.median_fitness:.4f}",
                        mean_size=f"{record.mean_size:.1f}")
        bar.refresh()
        if first and tracker.resumed:  # the generation that was in flight when the search stopped
            tracker.tags({"resumed_at_generation": record.generation})
        first = False
        log(record)

    return bar, callback, log


def _rows(result: SearchResult, tasks: Sequence[TaskData]) -> list[ProxyRow]:
    rows = []
    subsets = {t.name: {s: t.subset(s) for s in SETS if len(t.rows[s])} for t in tasks}
    for rank, entry in enumerate(result.hall_of_fame, start=1):
        program = compile_program(entry.tree)
        scores = {task: {s: correlation(program(bind(table)).cpu().numpy(), acc) for s, (table, acc) in sets.items()}
                  for task, sets in subsets.items()}
        rows.append(ProxyRow(f"proxy_{rank}", "found", to_python(entry.tree), to_math(entry.tree), entry.size, scores))
    names = baseline_names(tasks[0].table)
    baseline_scores = {task: {s: {name: correlation(v, acc) for name, v in score_baselines(table, names).items()}
                              for s, (table, acc) in sets.items()} for task, sets in subsets.items()}
    for name in names:
        scores = {task: {s: per[name] for s, per in sets.items()} for task, sets in baseline_scores.items()}
        rows.append(ProxyRow(name, "baseline", name, name, 1, scores))
    return rows


def best_baseline_fitness(rows: Sequence[ProxyRow], searched: Sequence[TaskData], fitness: str) -> tuple[str, float] | None:
    """Return the baseline with the best fitness on the search archs and that fitness (None when none ranks them).

    A baseline's fitness combines its Kendall taus on the searched tasks as the search's `fitness` does.
    """
    combine = FITNESSES[fitness]([Task(*t.subset("search")) for t in searched]).combine
    scored = [(r.name, float(combine(np.array([[r.scores[t.name]["search"].kendall] for t in searched]))[0]))
              for r in rows if r.kind == "baseline"]
    return best_by_tau(scored, lambda pair: pair[1])


def _mean_tau(row: ProxyRow, set_name: str) -> float:
    values = [sets[set_name].kendall for sets in row.scores.values() if set_name in sets]
    return float(np.mean(values)) if values else float("nan")


def compute_spent(result: SearchResult, tasks: Sequence[TaskData], seconds: float,
                  energy: Energy | None = None) -> dict[str, float]:
    """Return what a search cost: statistics passes (recorded seconds, joules), program evaluations, GP wall time and joules.

    Joules are keyed `<what>_joules_<measured|estimated>` (Energy.metrics); `energy` is the search's own.
    """
    statistics = total_energy(Energy(t.compute_joules, t.compute_energy_source) for t in tasks)
    return {
        "statistics_passes": float(sum(len(t.table) for t in tasks)),
        "statistics_seconds": float(sum(t.compute_seconds for t in tasks)),
        **statistics.metrics("statistics"),
        "program_evaluations": float(sum(r.unique_evaluations for r in result.log)),
        "memo_hits": float(sum(r.memo_hits for r in result.log)),
        "search_seconds": seconds,
        **(energy.metrics("search") if energy is not None else {}),
    }


def write_report(rows: Sequence[ProxyRow], tasks: Sequence[TaskData], out: Path, options: StatisticsOptions,
                 spent: dict[str, float], origin: dict[str, str] | None = None) -> dict[str, Path]:
    """Write hall_of_fame.csv, report.json and report.md into `out`; return their paths.

    `origin` (command, tasks, run id, ...) goes into report.json, so `greenmachine export` can cite it.
    """
    found = [r for r in rows if r.kind == "found"]
    baselines = [r for r in rows if r.kind == "baseline"]
    files = {"hall_of_fame": out / "hall_of_fame.csv", "report_json": out / "report.json", "report": out / "report.md"}
    with open(files["hall_of_fame"].with_suffix(".tmp"), "w", newline="") as f:
        writer = csv.writer(f)
        header = ["rank", "name", "size", "formula", "expression"]
        header += [f"{t.name}:{s}:{m}" for t in tasks for s in SETS if len(t.rows[s]) for m in ("kendall", "spearman", "top10")]
        writer.writerow(header)
        for rank, r in enumerate(found, start=1):
            values = [f"{getattr(r.scores[t.name][s], m):.4f}" for t in tasks for s in SETS if len(t.rows[s])
                      for m in ("kendall", "spearman", "top10")]
            writer.writerow([rank, r.name, r.size, r.formula, r.expression, *values])
    files["hall_of_fame"].with_suffix(".tmp").replace(files["hall_of_fame"])
    payload = {"options": options.settings(), "compute": spent, "origin": origin or {}, "tasks": [{"name": t.name, "metric": t.metric, "epochs": t.epochs, "sample": t.sample.to_dict(),
                          "sets": {s: int(len(t.rows[s])) for s in SETS}, "dropped": len(t.dropped), "probe": t.probe}
                         for t in tasks],
               "proxies": [{"name": r.name, "kind": r.kind, "formula": r.formula, "expression": r.expression,
                            "size": r.size, "scores": {task: {s: asdict(c) for s, c in sets.items()}
                                                        for task, sets in r.scores.items()}} for r in rows]}
    atomic_write_text(files["report_json"], json.dumps(payload, indent=2))
    statistics_energy, search_energy = (energy_from_metrics(spent, what) for what in ("statistics", "search"))
    joules = f", {statistics_energy}" if statistics_energy is not None else ""
    search_joules = f" ({search_energy})" if search_energy is not None else ""
    lines = ["# Search report", "",
             f"Compute spent: statistics of {spent['statistics_passes']:.0f} archs, "
             f"{spent['statistics_seconds']:.0f} s of recorded pass time{joules}; "
             f"{spent['program_evaluations']:.0f} program evaluations (+{spent['memo_hits']:.0f} answered by the memo) "
             f"in {spent['search_seconds']:.1f} s of search{search_joules}.", ""]
    if ESTIMATED in {e.source for e in (statistics_energy, search_energy) if e is not None}:
        lines += [f"Estimated joules: CodeCarbon's process model, {power_model().describe()} (docs/energy.md).", ""]
    for t in tasks:
        lines += [f"## {t.name} ({t.metric} accuracy, {t.epochs} epochs)", "",
                  f"Sampling: {t.sample.describe()}", "",
                  f"Sets: search {len(t.rows['search'])} archs, holdout {len(t.rows['holdout'])} (same protocol, "
                  f"disjoint), evaluation {len(t.rows['evaluation'])} (fixed random holdout of the space, never "
                  f"searched). Archs dropped for failed statistics: {len(t.dropped)}.", ""]
        present = [s for s in SETS if len(t.rows[s])]
        header = "| proxy | " + " | ".join(f"{s} tau" for s in present) + " | evaluation rho | evaluation top-10% |"
        lines += [header, "|" + "---|" * (len(present) + 3)]
        best = best_by_tau(baselines, lambda r: r.scores[t.name]["search"].kendall)
        params = next((r for r in baselines if r.name == "params"), None)
        shown = found[:5] + [r for r in (best, params) if r is not None and r not in found]
        for r in shown:
            label = r.name if r.kind == "found" else (f"{r.name} (best baseline on search)" if r is best else r.name)
            ev = r.scores[t.name].get("evaluation")
            cells = " | ".join(format_tau(r.scores[t.name][s].kendall) for s in present)
            lines.append(f"| {label} | {cells} | {format_tau(ev.spearman)} | {format_tau(ev.top10)} |" if ev
                         else f"| {label} | {cells} | | |")
        lines += ["", "Formulas:", ""] + [f"- `{r.name}`: {r.formula}" for r in found[:5]] + [""]
        lines += ["All baselines on the evaluation set (Kendall tau):", "",
                  ", ".join(f"{r.name} {format_tau(r.scores[t.name]['evaluation'].kendall)}" for r in
                            rank_by_tau(baselines, lambda r: r.scores[t.name].get('evaluation', r.scores[t.name]['search']).kendall)
                            if "evaluation" in r.scores[t.name]), ""]
    atomic_write_text(files["report"], "\n".join(lines))
    return files


CHECKPOINT = "checkpoint.pkl"  # in the run folder; a search started there resumes from it
REPORT_KEYS = ("options", "tasks", "proxies")


def read_report(path: Path) -> dict:
    """Return the payload of a search's `report.json` (see write_report).

    Raises CorruptFileError naming the file if it is empty, truncated or not a search report.
    """
    remedy = "rerun the search in its folder to write it again (it resumes from its checkpoint)"
    try:
        payload = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(path, describe(exc), remedy) from exc
    missing = [k for k in REPORT_KEYS if k not in payload] if isinstance(payload, dict) else list(REPORT_KEYS)
    if missing or not payload["tasks"]:
        raise CorruptFileError(path, f"it is not a search report: no {', '.join(missing) or 'tasks'}", remedy)
    return payload


def run_search(tasks: Sequence[TaskData], config: GPConfig, out: Path, tracker: Tracker, options: StatisticsOptions,
               origin: dict[str, str], progress: bool = True, device: str = "cpu") -> SearchOutcome:
    """Evolve proxies on the tasks' search archs and write report, proxies and plots into `out`.

    With the single-target fitness `kendall` only the first task is searched and the others are
    reported (cross-transfer); the multi-target fitnesses search on every task. Programs run on
    `device` (a GPU when there is one). A checkpoint (`out/checkpoint.pkl`) is written after every
    generation; rerunning in the same folder resumes from the last completed generation (and, with a
    tracker that continues the folder's MLflow run, logs the generations that run had not logged).
    """
    start = time.perf_counter()
    meter = EnergyMeter(device)
    mark = meter.mark()
    out.mkdir(parents=True, exist_ok=True)
    tasks = [replace(t, table=t.table.to(device)) for t in tasks]  # programs run where the tables are
    searched_tasks = tasks[:1] if config.fitness == "kendall" else tasks
    searched = [t.subset("search") for t in searched_tasks]
    bar, callback, log = _progress(config, tracker, progress)
    with bar:
        result = evolve([tab for tab, _ in searched], [acc for _, acc in searched], config, [callback],
                        checkpoint=out / CHECKPOINT)
    for record in result.log:  # a generation checkpointed just before a kill was never logged
        log(record)
    rows = _rows(result, tasks)
    spent = compute_spent(result, tasks, time.perf_counter() - start, meter.since(mark))
    origin = {**origin, "run_id": tracker.run_id or "untracked"}
    files = write_report(rows, tasks, out, options, spent, origin)
    files["fitness_plot"] = plot_fitness([asdict(r) for r in result.log], out / "fitness.png",
                                         best_baseline_fitness(rows, searched_tasks, config.fitness))
    found = [r for r in rows if r.kind == "found"]
    if found:
        best = result.hall_of_fame[0]
        set_name = "evaluation" if len(tasks[0].rows["evaluation"]) else "search"
        table, acc = tasks[0].subset(set_name)
        files["scatter"] = plot_scatter(compile_program(best.tree)(bind(table)).cpu().numpy(), acc,
                                        f"{found[0].name} on {tasks[0].name} {set_name}: {found[0].formula[:80]}",
                                        out / "scatter.png")
    for row, entry in zip(found, result.hall_of_fame):
        taus = {f"{task}:{s}": c.kendall for task, sets in row.scores.items() for s, c in sets.items()}
        write_module(ExportedProxy(row.name, row.formula, row.expression, tuple(sorted(terminals_of(entry.tree))),
                                   int(tasks[0].probe.get("seed", 0)), options.settings(),
                                   origin, taus), out / "proxies")
    files["proxies"] = out / "proxies"
    atomic_write_text(out / "formulas.txt", "\n".join(f"{r.name}: {r.formula}" for r in found) + "\n")
    files["formulas"] = out / "formulas.txt"
    for key in ("hall_of_fame", "report", "report_json", "fitness_plot", "scatter", "formulas"):
        if key in files:
            tracker.artifact(files[key])
    tracker.artifact(files["proxies"], "proxies")
    best_rows = {f"{s}_tau": _mean_tau(found[0], s) for s in SETS if found} if found else {}
    tracker.metrics({k: v for k, v in {**best_rows, **spent}.items() if np.isfinite(v)})
    return SearchOutcome(result, tuple(rows), files, time.perf_counter() - start)
