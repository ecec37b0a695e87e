"""MLflow tracking: the only module that imports mlflow.

One MLflow run per search: the resolved config as params, per-generation metrics, artifacts
(hall of fame, exported proxies, formulas, plots) and tags. The default store is SQLite in the
working folder; MLFLOW_TRACKING_URI overrides it. Two processes creating the same SQLite store at
once race in its schema migration, so `ensure_store` runs before a sweep's jobs start (a Hydra
callback does it for `--multirun`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

DEFAULT_STORE = "mlruns.db"


def tracking_uri(uri: str | None = None) -> str:
    """Return the tracking URI: `uri`, else $MLFLOW_TRACKING_URI, else SQLite `mlruns.db` in the working folder."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_STORE}"


def ensure_store(uri: str | None = None, experiment: str = "greenmachine") -> str:
    """Create the tracking store and experiment if they do not exist; return the URI."""
    import mlflow

    uri = tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    if client.get_experiment_by_name(experiment) is None:
        artifacts = None
        if uri.startswith("sqlite:///"):
            artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
        try:
            client.create_experiment(experiment, artifact_location=artifacts)
        except Exception:  # another process created it between the check and the call
            if client.get_experiment_by_name(experiment) is None:
                raise
    return uri


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
    """Logs one run; every method is a no-op when tracking is disabled."""

    def __init__(self, run: Any = None):
        self._run = run

    @property
    def run_id(self) -> str | None:
        """Return the MLflow run id, or None when tracking is off."""
        return self._run.info.run_id if self._run is not None else None

    def metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric metrics (at `step`, e.g. the generation)."""
        if self._run is not None:
            import mlflow

            mlflow.log_metrics({k: float(v) for k, v in values.items()}, step=step)

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


@contextmanager
def tracked_run(enabled: bool, uri: str | None, experiment: str, name: str, params: Mapping[str, Any],
                tags: Mapping[str, str]) -> Iterator[Tracker]:
    """Yield a Tracker for one MLflow run (or a disabled one); the run ends, FAILED on error, on exit."""
    if not enabled:
        yield Tracker()
        return
    import mlflow

    uri = ensure_store(uri, experiment)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params(flatten(params))
        mlflow.set_tags({k: str(v) for k, v in tags.items()})
        yield Tracker(run)


class CreateStoreCallback(Callback):
    """Hydra callback: create the MLflow store once before a sweep's jobs start (they would race)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        tracking = config.get("tracking")
        if tracking is not None and tracking.get("enabled"):
            ensure_store(tracking.get("uri"), tracking.get("experiment", "greenmachine"))
