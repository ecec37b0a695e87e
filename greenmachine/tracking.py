"""MLflow tracking: the only module that imports mlflow.

One MLflow run per search: the resolved config as params, per-generation metrics, artifacts
(hall of fame, exported proxies, formulas, plots) and tags. The default store is SQLite in the
working folder; MLFLOW_TRACKING_URI overrides it. Two processes creating the same SQLite store at
once race in its schema migration, so `ensure_store` creates it under a lock (`<store>.lock`) in
every command, and before a sweep's jobs start (a Hydra callback does it for `--multirun`). A run
whose id is recorded in its output folder (`mlflow_run.json`) is continued when its search resumes,
so a killed and resumed search is one run with one fitness curve.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from greenmachine.errors import CorruptFileError, describe
from greenmachine.locks import file_lock
from greenmachine.statistics.cache import atomic_write_text

DEFAULT_STORE = "mlruns.db"
RUN_FILE = "mlflow_run.json"


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


class Tracker:
    """Logs one run; every method is a no-op when tracking is disabled.

    Attributes:
        resumed: whether the run was started before (by a search that this one resumes).
    """

    def __init__(self, run: Any = None, resumed: bool = False):
        self._run, self.resumed = run, resumed

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

            mlflow.set_tags({k: str(v) for k, v in values.items()})


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
                tags: Mapping[str, str], record: Path | None = None, resume: bool = True) -> Iterator[Tracker]:
    """Yield a Tracker for one MLflow run (or a disabled one); the run ends, FAILED on error, on exit.

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
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else name) as run:
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
        mlflow.set_tags({k: str(v) for k, v in tags.items()})
        yield Tracker(run, resumed=run_id is not None)


class CreateStoreCallback(Callback):
    """Hydra callback: create the MLflow store once before a sweep's jobs start (they would race)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        tracking = config.get("tracking")
        if tracking is not None and tracking.get("enabled"):
            ensure_store(tracking.get("uri"), tracking.get("experiment", "greenmachine"))
