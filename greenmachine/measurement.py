"""A finished search measured: every found proxy, baseline and Pareto-front program correlated on every task and set,
with the compute the search spent, into its SearchRecord."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from greenmachine.correlations import best_by_tau, correlation
from greenmachine.energy import Energy, total_energy
from greenmachine.formula import readable
from greenmachine.gp import SearchResult, bind, compile_program, to_math, to_python
from greenmachine.gp.evolve import primitive_set
from greenmachine.gp.fitness import FITNESSES, Task
from greenmachine.gp.pset import parse_tree
from greenmachine.proxies.base import PROXIES
from greenmachine.search_record import FINISHED, ProxyRow, SearchRecord, TaskSummary
from greenmachine.search_settings import SearchSettings
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.table import StatisticsTable
from greenmachine.tasks import SETS, TaskData, searched_tasks


def baseline_names(table: StatisticsTable) -> list[str]:
    """Return the registered proxies a search report compares against: those whose statistics are all in `table`,
    but for the ones tagged `unreported`."""
    have = set(table.layer) | set(table.scalar)
    return [name for name, proxy in PROXIES.items() if set(proxy.statistics) <= have and "unreported" not in proxy.tags]


def score_baselines(table: StatisticsTable, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Return each baseline's scores on the table's archs (pool-relative ones ranked within the table)."""
    return {name: PROXIES[name].evaluate(table).double().cpu().numpy() for name in names}


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


def best_baseline_fitness(rows: Sequence[ProxyRow], searched: Sequence[TaskData], fitness: str) -> tuple[str, float] | None:
    """Return the baseline with the best fitness on the search archs and that fitness (None when none ranks them).

    A baseline's fitness combines its Kendall taus on the searched tasks as the search's `fitness` does.
    """
    combine = FITNESSES[fitness]([Task(*t.subset("search")) for t in searched]).combine
    scored = [(r.name, float(combine(np.array([[r.scores[t.name]["search"].kendall] for t in searched]))[0]))
              for r in rows if r.kind == "baseline"]
    return best_by_tau(scored, lambda pair: pair[1])


def _correlations(scores_of, tasks: Sequence[TaskData]) -> dict[str, dict[str, object]]:
    """Return task -> set -> Correlation of `scores_of(table)` with the set's accuracies."""
    out = {}
    for task in tasks:
        out[task.name] = {}
        for s in SETS:
            if len(task.rows[s]):
                table, accuracy = task.subset(s)
                out[task.name][s] = correlation(scores_of(table), accuracy)
    return out


def _proxy_row(name: str, kind: str, tree, fitness: float, tasks: Sequence[TaskData]) -> ProxyRow:
    """Return the report row of a GP tree: formulas (plain, simplified, LaTeX), correlations, cost per arch."""
    program = compile_program(tree)
    expression = to_python(tree)
    simplified, latex = readable(expression)
    seconds, joules = tasks[0].cost_per_arch(passes_for(sorted(program.statistics)))
    return ProxyRow(name, kind, expression, to_math(tree), len(tree),
                    _correlations(lambda table: program(bind(table)).cpu().numpy(), tasks), fitness, simplified,
                    latex, seconds, joules)


def build_record(result: SearchResult, tasks: Sequence[TaskData], settings: SearchSettings, spent: dict[str, float],
                 origin: dict[str, str]) -> SearchRecord:
    """Return the finished record of a search: found proxies, baselines and the Pareto front measured on every set."""
    rows = [_proxy_row(f"proxy_{rank}", "found", entry.tree, entry.fitness, tasks)
            for rank, entry in enumerate(result.hall_of_fame, start=1)]
    names = baseline_names(tasks[0].table)
    for name in names:
        seconds, joules = tasks[0].cost_per_arch(passes_for(PROXIES[name].statistics))
        scores = _correlations(lambda table, name=name: score_baselines(table, [name])[name], tasks)
        rows.append(ProxyRow(name, "baseline", name, name, 1, scores, simplified=name,
                             latex=r"\mathrm{" + name.replace("_", r"\_") + "}", seconds_per_arch=seconds,
                             joules_per_arch=joules))
    searched = searched_tasks(tasks, settings.gp.fitness)
    searched_names = {t.name for t in searched}
    pset = primitive_set([t.table for t in searched], settings.gp)
    pareto = [_proxy_row(f"size_{entry.size}", "pareto", parse_tree(entry.expression, pset), entry.fitness, tasks)
              for entry in result.pareto]
    summaries = tuple(TaskSummary(t.name, t.metric, t.epochs, t.sample.to_dict(), {s: int(len(t.rows[s])) for s in SETS},
                                  len(t.dropped), dict(t.probe), t.sample.describe(), t.name in searched_names) for t in tasks)
    return SearchRecord(FINISHED, settings.to_dict(), settings.options.settings(), spent, origin, summaries,
                        tuple(rows), tuple(pareto), tuple(asdict(r) for r in result.log))
