"""What a finished command's MLflow run says at a glance: its headline number, description and formula tags."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from deap import gp

from greenmachine.gp import to_math
from greenmachine.league import LeagueRow
from greenmachine.report import best_by_tau, format_tau
from greenmachine.tasks import SETS, TaskData
from greenmachine.tracking import Headline


def formula_latex(tree: gp.PrimitiveTree) -> str:
    """Return the tree's formula as LaTeX.

    The hook where sympy's simplified LaTeX plugs in; until then it is the plain formula (`to_math`).
    """
    return to_math(tree)


def _mean(values: Sequence[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def search_headline(rows: Sequence, tree: gp.PrimitiveTree | None, tasks: Sequence[TaskData], wall_seconds: float,
                    statistics_seconds: float, out: Path, command_line: str) -> Headline:
    """Return a search run's headline: the best found proxy's Kendall tau on the evaluation archs.

    Args:
        rows: the search's ProxyRows (found proxies best first, then baselines).
        tree: the best found proxy's tree (None when the search found none).
        tasks: the search's tasks; the tau is their mean over the tasks (the metric `evaluation_tau`),
            on the search archs (`search_tau`) when there is no evaluation set.
        wall_seconds: the command's wall time, statistics included; statistics_seconds: the part
            spent preparing the tasks (sampling, statistics passes, loading).
        out: the run's output folder; command_line: how it was run.
    """
    set_name = "evaluation" if len(tasks[0].rows["evaluation"]) else "search"
    found = [r for r in rows if r.kind == "found"]
    timing = (f"Wall time {wall_seconds:.0f} s, statistics included ({statistics_seconds:.0f} s preparing the "
              f"tasks: sampling, statistics passes, loading). Output: `{out}`.\n\nCommand: `{command_line}`")
    if not found or tree is None:
        return Headline(f"{set_name}_tau", math.nan, f"{'eval' if set_name == 'evaluation' else set_name} tau",
                        f"No proxy found.\n\n{timing}")
    best = found[0]
    value = _mean([best.scores[t.name][set_name].kendall for t in tasks if set_name in best.scores[t.name]])
    latex = formula_latex(tree)
    present = [s for s in SETS if any(len(t.rows[s]) for t in tasks)]
    lines = [f"**Best proxy** `{best.name}` (size {best.size}): Kendall tau {format_tau(value)} on the "
             f"{set_name} archs{' (mean over the tasks)' if len(tasks) > 1 else ''}.", "",
             f"$${latex}$$" if latex != best.formula else f"`{best.formula}`", ""]
    if latex != best.formula:
        lines += [f"Plain: `{best.formula}`", ""]
    lines += ["| proxy | task | " + " | ".join(f"{s} tau" for s in present) + " |",
              "|---|---|" + "---|" * len(present)]
    baselines = [r for r in rows if r.kind == "baseline"]
    for t in tasks:
        baseline = best_by_tau(baselines, lambda r: r.scores[t.name]["search"].kendall)
        for row, label in ((best, best.name), (baseline, f"{baseline.name} (best baseline on search)" if baseline else "")):
            if row is not None:
                cells = " | ".join(format_tau(row.scores[t.name][s].kendall) if s in row.scores[t.name] else ""
                                   for s in present)
                lines.append(f"| {label} | {t.name} | {cells} |")
    lines += ["", timing]
    label = "eval tau" if set_name == "evaluation" else "search tau"
    return Headline(f"{set_name}_tau", value, label, "\n".join(lines),
                    {"best_formula": best.formula, "best_formula_latex": latex, "best_proxy": best.name})


def evaluate_headline(rows: Sequence[LeagueRow], title: str, command_line: str) -> Headline:
    """Return a league run's headline: the best proxy's Kendall tau (`best_kendall`), named in its label."""
    best = best_by_tau(rows, lambda r: r.kendall)
    lines = [f"**League** {title}", "", "| rank | proxy | Kendall tau | Spearman rho |", "|---|---|---|---|"]
    lines += [f"| {i} | {r.proxy} | {format_tau(r.kendall)} | {format_tau(r.spearman)} |" for i, r in enumerate(rows, 1)]
    lines += ["", f"Command: `{command_line}`"]
    if best is None:
        return Headline("best_kendall", math.nan, "best tau", "\n".join(lines))
    return Headline("best_kendall", best.kendall, f"best {best.proxy} tau", "\n".join(lines), {"best_proxy": best.proxy})
