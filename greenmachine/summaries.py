"""What a finished command's MLflow run says at a glance: its headline number, description and formula tags."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from greenmachine.correlations import best_by_tau, format_tau
from greenmachine.league import LeagueRow
from greenmachine.markdown import markdown_table
from greenmachine.search_record import SETS, SearchRecord
from greenmachine.tracking import Headline


def _mean(values: Sequence[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def search_headline(record: SearchRecord, out: Path) -> Headline:
    """Return a search run's headline: the best found proxy's Kendall tau on the evaluation archs.

    The tau is the mean over the record's tasks (the metric `evaluation_tau`), on the search archs
    (`search_tau`) when there is no evaluation set. The description shows the formula as LaTeX (sympy's,
    `formula.readable`) and plain, a table of its taus beside the best baseline's, the wall time with
    its statistics part, the output folder `out` and the command line (`record.origin["command"]`);
    the tags `best_formula`, `best_formula_latex` and `best_proxy` name it.
    """
    tasks = record.tasks
    set_name = "evaluation" if tasks[0].sets.get("evaluation") else "search"
    label = "eval tau" if set_name == "evaluation" else "search tau"
    compute = record.compute
    timing = (f"Wall time {compute.get('wall_seconds', math.nan):.0f} s, statistics included "
              f"({compute.get('prepare_seconds', math.nan):.0f} s preparing the tasks: sampling, statistics passes, "
              f"loading). Output: `{out}`.\n\nCommand: `{record.origin.get('command', '')}`")
    found = record.found
    if not found:
        return Headline(f"{set_name}_tau", math.nan, label, f"No proxy found.\n\n{timing}")
    best = found[0]
    value = _mean([best.scores[t.name][set_name].kendall for t in tasks if set_name in best.scores[t.name]])
    present = [s for s in SETS if any(t.sets.get(s) for t in tasks)]
    lines = [f"**Best proxy** `{best.name}` (size {best.size}): Kendall tau {format_tau(value)} on the "
             f"{set_name} archs{' (mean over the tasks)' if len(tasks) > 1 else ''}.", "",
             f"$${best.latex}$$" if best.latex else f"`{best.formula}`", ""]
    if best.latex:
        lines += [f"Plain: `{best.formula}`", ""]
    rows = []
    for t in tasks:
        first = next((s for s in SETS if t.sets.get(s)), "search")
        baseline = best_by_tau(record.baselines, lambda r: r.scores[t.name][first].kendall)
        for row, name in ((best, best.name), (baseline, f"{baseline.name} (best baseline on {first})" if baseline else "")):
            if row is not None:
                rows.append([name, t.marked() if record.unseen else t.name,
                             *(format_tau(row.scores[t.name][s].kendall) if s in row.scores[t.name] else ""
                               for s in present)])
    lines += [markdown_table(["proxy", "task", *(f"{s} tau" for s in present)], rows), "", timing]
    return Headline(f"{set_name}_tau", value, label, "\n".join(lines),
                    {"best_formula": best.formula, "best_formula_latex": best.latex, "best_proxy": best.name})


def evaluate_headline(rows: Sequence[LeagueRow], title: str, command_line: str) -> Headline:
    """Return a league run's headline: the best proxy's Kendall tau (`best_kendall`), named in its label."""
    best = best_by_tau(rows, lambda r: r.kendall)
    lines = [f"**League** {title}", "",
             markdown_table(["rank", "proxy", "Kendall tau", "Spearman rho"],
                            [[i, r.proxy, format_tau(r.kendall), format_tau(r.spearman)] for i, r in enumerate(rows, 1)]),
             "", f"Command: `{command_line}`"]
    if best is None:
        return Headline("best_kendall", math.nan, "best tau", "\n".join(lines))
    return Headline("best_kendall", best.kendall, f"best {best.proxy} tau", "\n".join(lines), {"best_proxy": best.proxy})
