"""MLflow tracking: the only module that imports mlflow.

One MLflow run per command (search, evaluate, ensemble): the resolved config as params,
per-generation metrics, artifacts (hall of fame, exported proxies, formulas, plots) and tags. A run
is named for what it is (`run_name`), carries the tag `command`, and once its headline number is
known (`Tracker.conclude`) shows it in its name, with a Markdown description. A `--multirun` sweep
is one parent run with each job's run nested under it (`SweepCallback`). The default store is
SQLite in the working folder; MLFLOW_TRACKING_URI overrides it. Two processes creating the same SQLite store at
once race in its schema migration, so `ensure_store` creates it under a lock (`<store>.lock`) in
every command, and before a sweep's jobs start (a Hydra callback does it for `--multirun`). A run
whose id is recorded in its output folder (`mlflow_run.json`) is continued when its search resumes,
so a killed and resumed search is one run with one fitness curve.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from greenmachine.errors import CorruptFileError, describe
from greenmachine.locks import file_lock
from greenmachine.files import atomic_write_text

DEFAULT_STORE = "mlruns.db"
RUN_FILE = "mlflow_run.json"
SWEEP_FILE = "mlflow_sweep.json"  # in a sweep's folder: the parent run its jobs nest under
HEADLINE = "headline"  # tag naming the metric a run's name shows (the one a sweep's best child is chosen by)
DESCRIPTION = "mlflow.note.content"  # the tag MLflow's UI shows as a run's description (Markdown)
RUN_NAME = "mlflow.runName"
TAG_LIMIT = 5000  # characters kept of a tag value (MLflow refuses values over 8,000)
SEPARATOR = " · "


def run_name(command: str, subject: str, *details: object) -> str:
    """Return a run's name: the command, what it ran on, then its distinguishing settings.

    e.g. `search nats_tss/cifar10 · stratified n=1000 · pop 500 · seed 0`; empty details are left out.
    """
    return SEPARATOR.join([f"{command} {subject}".strip(), *(str(d) for d in details if d not in (None, ""))])


def headline_name(name: str, label: str, value: float) -> str:
    """Return `name` with its headline number appended (e.g. `... · eval tau 0.712`), or `n/a` when undefined."""
    shown = "n/a" if math.isnan(value) else f"{value:.3f}"
    return f"{name}{SEPARATOR}{label} {shown}"


def tracking_uri(uri: str | None = None) -> str:
    """Return the tracking URI: `uri`, else $MLFLOW_TRACKING_URI, else SQLite `mlruns.db` in the working folder."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_STORE}"


def _store_lock(uri: str) -> Path | None:
    """Return the lock file guarding the creation of a SQLite store (None for other stores)."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///"))
    return database.with_name(database.name + ".lock")


def ensure_store(uri: str | None = None, experiment: str = "greenmachine") -> str:
    """Create the tracking store and experiment if they do not exist; return the URI.

    For a SQLite store this holds `<store>.lock`, so processes started together create it one at a time.
    """
    import mlflow

    uri = tracking_uri(uri)
    lock = _store_lock(uri)
    if lock is None:
        _create_experiment(mlflow.MlflowClient(uri), uri, experiment)
    else:
        with file_lock(lock):
            _create_experiment(mlflow.MlflowClient(uri), uri, experiment)
    return uri


def _create_experiment(client: Any, uri: str, experiment: str) -> None:
    if client.get_experiment_by_name(experiment) is None:
        artifacts = None
        if uri.startswith("sqlite:///"):
            artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
        try:
            client.create_experiment(experiment, artifact_location=artifacts)
        except Exception:  # another process created it between the check and the call
            if client.get_experiment_by_name(experiment) is None:
                raise


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Return nested settings as dotted keys with string values (MLflow params)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out


@dataclass(frozen=True)
class Headline:
    """What a finished run shows at a glance.

    Attributes:
        metric: the MLflow metric holding the headline number (e.g. `evaluation_tau`).
        value: that number (NaN: undefined, shown as n/a).
        label: how the run's name shows it (e.g. `eval tau`).
        description: Markdown for the run's description.
        tags: more tags (e.g. the best formula, plain and LaTeX).
    """

    metric: str
    value: float
    label: str
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)


class Tracker:
    """Logs one run; every method is a no-op when tracking is disabled.

    Attributes:
        resumed: whether the run was started before (by a search that this one resumes).
        name: the run's name before its headline number is known.
    """

    def __init__(self, run: Any = None, resumed: bool = False, name: str = ""):
        self._run, self.resumed, self.name = run, resumed, name

    @property
    def run_id(self) -> str | None:
        """Return the MLflow run id, or None when tracking is off."""
        return self._run.info.run_id if self._run is not None else None

    def metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric metrics (at `step`, e.g. the generation)."""
        if self._run is not None:
            import mlflow

            mlflow.log_metrics({k: float(v) for k, v in values.items()}, step=step)

    def logged_steps(self, key: str) -> set[int]:
        """Return the steps at which metric `key` was logged in this run (empty when tracking is off)."""
        if self._run is None:
            return set()
        import mlflow

        return {m.step for m in mlflow.MlflowClient().get_metric_history(self.run_id, key)}

    def artifact(self, path: str | Path, folder: str | None = None) -> None:
        """Log a file or a folder's files as artifacts."""
        if self._run is not None:
            import mlflow

            path = Path(path)
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path=folder)
            else:
                mlflow.log_artifact(str(path), artifact_path=folder)

    def tags(self, values: Mapping[str, str]) -> None:
        """Set run tags."""
        if self._run is not None:
            import mlflow

            mlflow.set_tags({k: str(v)[:TAG_LIMIT] for k, v in values.items()})

    def conclude(self, headline: Headline) -> None:
        """Record the run's headline: log its metric, show `label value` in the run's name, set its description and tags.

        A sweep's parent run picks its best child by this metric (tag `headline`).
        """
        if self._run is None:
            return
        if not math.isnan(headline.value):  # undefined: nothing to log, the name says n/a
            self.metrics({headline.metric: headline.value})
        values = {HEADLINE: headline.metric, RUN_NAME: headline_name(self.name, headline.label, headline.value),
                  **headline.tags}
        if headline.description:
            values[DESCRIPTION] = headline.description
        self.tags(values)


def _read_record(record: Path) -> tuple[str, str] | None:
    """Return the run id and tracking URI written in `record` (None if there is no such file).

    Raises CorruptFileError if it cannot be read.
    """
    if not record.is_file():
        return None
    try:
        recorded = json.loads(record.read_text())
        return str(recorded["run_id"]), str(recorded["tracking_uri"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(record, describe(exc), "delete it to log this search as a new MLflow run") from exc


def _live_run(client: Any, recorded: tuple[str, str] | None, record: Path, uri: str, experiment_id: str) -> str | None:
    """Return the recorded run id if it is a live run of this store and experiment, else None (with a note)."""
    if recorded is None:
        return None
    run_id, recorded_uri = recorded
    if recorded_uri != uri:
        print(f"note: {record} names MLflow run {run_id} of {recorded_uri}; logging to {uri} as a new run",
              file=sys.stderr)
        return None
    try:
        run = client.get_run(run_id)
    except Exception:  # the store no longer has it
        run = None
    if run is None or run.info.experiment_id != experiment_id or run.info.lifecycle_stage != "active":
        print(f"note: MLflow run {run_id} named in {record} is gone from this store or experiment; "
              "logging this search as a new run", file=sys.stderr)
        return None
    return run_id


@contextmanager
def tracked_run(enabled: bool, uri: str | None, experiment: str, name: str, params: Mapping[str, Any],
                tags: Mapping[str, str], record: Path | None = None, resume: bool = True,
                parent_run_id: str | None = None) -> Iterator[Tracker]:
    """Yield a Tracker for one MLflow run (or a disabled one); the run ends, FAILED on error, on exit.

    `name` starts with the command (see run_name); that first word is also the tag `command`. With
    `parent_run_id` (a sweep's parent run, see sweep_parent) a new run is nested under it.

    With `record` (a file in the run's output folder) and `resume` (the search continues from a
    checkpoint), the run named there is continued if it is in this store and experiment: a resumed
    search is one run with one fitness curve. Otherwise a new run is started and its id written
    there. A continued run keeps its params; settings that differ now (say, more generations) are
    listed in the tag `changed_params`.
    """
    if not enabled:
        yield Tracker()
        return
    import mlflow

    recorded = _read_record(Path(record)) if record is not None and resume else None
    uri = ensure_store(uri, experiment)
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    client = mlflow.MlflowClient(uri)
    run_id = _live_run(client, recorded, Path(record), uri, experiment_id) if record is not None else None
    flat = flatten(params)
    parent = None if run_id else parent_run_id
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else name, parent_run_id=parent) as run:
        if record is not None and run_id is None:
            Path(record).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(Path(record), json.dumps({"run_id": run.info.run_id, "tracking_uri": uri}, indent=2))
        if run_id is None:
            mlflow.log_params(flat)
        else:
            logged = client.get_run(run_id).data.params
            mlflow.log_params({k: v for k, v in flat.items() if k not in logged})
            changed = {k: v for k, v in flat.items() if k in logged and logged[k] != v}
            if changed:
                mlflow.set_tag("changed_params", ", ".join(f"{k}: {logged[k]} -> {v}" for k, v in changed.items())[:5000])
        mlflow.set_tags({"command": name.split()[0] if name else "", **{k: str(v)[:TAG_LIMIT] for k, v in tags.items()}})
        yield Tracker(run, resumed=run_id is not None, name=name)


def sweep_parent(uri: str | None) -> str | None:
    """Return the parent run of the `--multirun` sweep this Hydra job belongs to (None outside a sweep).

    SweepCallback writes it into the sweep's folder before the jobs start; a parent of another store
    is not used.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    recorded = _read_record(Path(HydraConfig.get().sweep.dir) / SWEEP_FILE)
    if recorded is None or recorded[1] != tracking_uri(uri):
        return None
    return recorded[0]


def _best_child(client: Any, experiment_id: str, parent_id: str) -> tuple[Any, float] | None:
    """Return a sweep's child run with the highest headline metric and that value (None if none has one)."""
    children = client.search_runs([experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    scored = [(run, run.data.metrics.get(run.data.tags.get(HEADLINE, ""), float("nan"))) for run in children]
    scored = [(run, value) for run, value in scored if not math.isnan(value)]
    return max(scored, key=lambda pair: pair[1]) if scored else None


class SweepCallback(Callback):
    """Hydra callback for `--multirun`: creates the MLflow store once, and a parent run the jobs nest under.

    The store is created before the jobs start (they would race in its schema migration). The parent
    run is named `<command> sweep · <the swept settings>`, tagged `command`, the subcommand that sweeps
    being the config's name (`hydra.job.config_name`: `search`, `evaluate`, ...); when the sweep ends it
    is named with its best child's headline number, and its description links that child.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        tracking = config.get("tracking")
        if tracking is None or not tracking.get("enabled"):
            return
        import mlflow

        command = config.hydra.job.config_name
        experiment = tracking.get("experiment", "greenmachine")
        uri = ensure_store(tracking.get("uri"), experiment)
        client = mlflow.MlflowClient(uri)
        overrides = list(config.hydra.overrides.task)
        swept = [o for o in overrides if "," in o.partition("=")[2] or "(" in o.partition("=")[2]]
        experiment_id = client.get_experiment_by_name(experiment).experiment_id
        line = " ".join(["greenmachine", command, "--multirun", *overrides])
        name = run_name(f"{command} sweep", "", *(swept or overrides))
        run = client.create_run(experiment_id, run_name=name,
                                tags={"command": command, "sweep": "true", "command_line": line[:TAG_LIMIT]})
        record = Path(config.hydra.sweep.dir) / SWEEP_FILE
        record.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(record, json.dumps({"run_id": run.info.run_id, "tracking_uri": uri}, indent=2))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        recorded = _read_record(Path(config.hydra.sweep.dir) / SWEEP_FILE)
        if recorded is None:
            return
        import mlflow

        run_id, uri = recorded
        client = mlflow.MlflowClient(uri)
        parent = client.get_run(run_id)
        best = _best_child(client, parent.info.experiment_id, run_id)
        if best is not None:
            child, value = best
            metric = child.data.tags[HEADLINE]
            client.log_metric(run_id, f"best_{metric}", value)
            client.set_tag(run_id, RUN_NAME, headline_name(parent.info.run_name, f"best {metric}", value))
            client.set_tag(run_id, DESCRIPTION, f"Best job: [{child.info.run_name}](#/experiments/"
                           f"{child.info.experiment_id}/runs/{child.info.run_id}), {metric} {value:.3f}.\n\n"
                           "Each job of the sweep is a child run: expand this run in the runs table.")
        client.set_terminated(run_id, "FINISHED")
