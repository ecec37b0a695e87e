"""Side effects of a search as callbacks: progress bar, report files, MLflow logging.

A callback is called after every completed generation with its record and the search state, and
returns True to stop the run (see `gp.evolve.Callback`); a plain function `(record, state)` is one.
A `SearchCallback` may also act when the search starts (`on_start`, after its statistics are
ready) and ends (`on_end`, once its record is built). Checkpoints are `gp.checkpoint.Checkpoint`.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from greenmachine.export import write_module
from greenmachine.files import atomic_write_text
from greenmachine.gp.evolve import GenerationRecord, SearchState
from greenmachine.plots import plot_fitness, plot_scatter
from greenmachine.proxies.expression import evaluate_expression
from greenmachine.search_record import SETS, hall_of_fame_frame, render_markdown
from greenmachine.summaries import search_headline
from greenmachine.tracking import Tracker

if TYPE_CHECKING:
    from greenmachine.search import Search


class SearchCallback:
    """A search callback with start and end hooks; subclasses override what they need."""

    def on_start(self, search: Search) -> None:
        """Act when the search starts, its tasks prepared (search.tasks)."""

    def __call__(self, record: GenerationRecord, state: SearchState) -> bool | None:
        """Act after a completed generation; return True to stop the run."""
        return None

    def on_end(self, search: Search) -> None:
        """Act when the search has ended, its record built (search.record)."""


class ProgressBar(SearchCallback):
    """A progress bar over generations, showing the best and median fitness and the mean tree size."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def on_start(self, search: Search) -> None:
        self.bar = tqdm(total=search.settings.gp.generations + 1,
                        desc="GP generations (best/median Kendall tau on search archs)", unit="gen", dynamic_ncols=True)

    def __call__(self, record: GenerationRecord, state: SearchState) -> None:
        if self.bar is not None:
            self.bar.n = record.generation + 1
            self.bar.set_postfix(best=f"{record.best_fitness:.4f}", median=f"{record.median_fitness:.4f}",
                                 mean_size=f"{record.mean_size:.1f}")
            self.bar.refresh()

    def on_end(self, search: Search) -> None:
        if self.bar is not None:
            self.bar.close()


class ReportWriter(SearchCallback):
    """Writes a search's files into its folder when it ends and lists them in `search.files`.

    report.json (the record), hall_of_fame.csv (`Search.hall_of_fame`), report.md, formulas.txt
    (plain, simplified and LaTeX), fitness.png (with the best baseline's fitness as the line to beat),
    scatter.png (the best proxy on the first task's evaluation set) and proxies/<name>.py (each found
    proxy, standalone).
    """

    def on_end(self, search: Search) -> None:
        out, record = search.out, search.record
        files = {"report_json": record.write(out / "report.json"), "hall_of_fame": out / "hall_of_fame.csv",
                 "report": out / "report.md", "formulas": out / "formulas.txt"}
        atomic_write_text(files["hall_of_fame"], hall_of_fame_frame(record).to_csv(index=False))
        atomic_write_text(files["report"], render_markdown(record))
        atomic_write_text(files["formulas"], "".join(f"{r.name}: {r.formula}\n  simplified: {r.simplified}\n"
                                                     f"  latex: {r.latex}\n" for r in record.found))
        files["fitness_plot"] = plot_fitness([asdict(r) for r in record.generations()], out / "fitness.png",
                                             search.best_baseline())
        found = record.found
        if found and search.tasks:
            task = search.tasks[0]
            set_name = "evaluation" if len(task.rows["evaluation"]) else "search"
            table, accuracy = task.subset(set_name)
            scores = evaluate_expression(found[0].expression, table).double().cpu().numpy()
            files["scatter"] = plot_scatter(scores, accuracy, f"{found[0].name} on {task.name} {set_name}: "
                                            f"{found[0].formula[:80]}", out / "scatter.png")
        for row in found:
            write_module(record.exported(row), out / "proxies")
        files["proxies"] = out / "proxies"
        search.files.update(files)


class MLflowLogger(SearchCallback):
    """Logs a search to its MLflow run: per-generation metrics, then its files, final numbers and headline.

    With unseen targets, `unseen_tau` is the pick's (SearchRecord.pick) mean Kendall tau on their evaluation archs.

    The headline (summaries.search_headline) names the run with the best proxy's tau, describes it in
    Markdown (formula in LaTeX, tau table, wall time, command line) and tags the best formula.

    A resumed run's tracker already holds the generations logged before it stopped; those are not
    logged again, and at the end every generation of the log that is missing (checkpointed but not
    logged before a kill) is filled in, so the run has exactly one point per generation.
    """

    def __init__(self, tracker: Tracker):
        self.tracker = tracker
        self.logged = tracker.logged_steps("best_tau") if tracker.resumed else set()
        self.first = True

    def log(self, record: GenerationRecord) -> None:
        """Log one generation's metrics unless they are logged already."""
        if record.generation in self.logged:
            return
        self.tracker.metrics({
            "best_tau": record.best_fitness,
            "median_tau": record.median_fitness if np.isfinite(record.median_fitness) else -1.0,
            "mean_tree_size": record.mean_size,
            "distinct_programs": record.distinct,
            "cache_hits": record.memo_hits,
            "unique_evaluations": record.unique_evaluations,
            "evaluations_per_second": record.evaluations_per_second,
        }, step=record.generation)
        self.logged.add(record.generation)

    def __call__(self, record: GenerationRecord, state: SearchState) -> None:
        if self.first and self.tracker.resumed:  # the generation that was in flight when the search stopped
            self.tracker.tags({"resumed_at_generation": record.generation})
        self.first = False
        self.log(record)

    def on_end(self, search: Search) -> None:
        record = search.record
        for generation in record.generations():
            self.log(generation)
        for key in ("hall_of_fame", "report", "report_json", "fitness_plot", "scatter", "formulas"):
            if key in search.files:
                self.tracker.artifact(search.files[key])
        if "proxies" in search.files:
            self.tracker.artifact(search.files["proxies"], "proxies")
        found = record.found
        headline = search_headline(record, search.out)
        best = {f"{s}_tau": found[0].mean_tau(s) for s in SETS if f"{s}_tau" != headline.metric} if found else {}
        if found and record.unseen:  # the pick's transfer to targets neither the search nor the pick read
            best["unseen_tau"] = record.pick.mean_tau("evaluation", record.unseen)
        self.tracker.metrics({k: v for k, v in {**best, **record.compute}.items() if math.isfinite(v)})
        self.tracker.conclude(headline)  # logs the headline metric

