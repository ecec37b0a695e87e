"""Where benchmark data and caches live: one setting each, with an environment override."""

from __future__ import annotations

import os
from pathlib import Path

from greenmachine.errors import DataNotFoundError

DATA_ENV = "GREENMACHINE_DATA"
CACHE_ENV = "GREENMACHINE_CACHE"

# Looked at in order when neither the setting nor the environment names a folder.
_DEFAULT_DATA_DIRS = (
    Path(__file__).resolve().parents[2] / "shared" / "data",  # a checkout next to the shared data
    Path.home() / ".cache" / "greenmachine" / "data",  # where `greenmachine fetch` puts downloads
)


def data_candidates(setting: str | os.PathLike | None = None) -> list[Path]:
    """Return the folders searched for benchmark data, most specific first."""
    if setting:
        return [Path(setting).expanduser()]
    if os.environ.get(DATA_ENV):
        return [Path(os.environ[DATA_ENV]).expanduser()]
    return list(_DEFAULT_DATA_DIRS)


def data_dir(setting: str | os.PathLike | None = None) -> Path:
    """Return the benchmark data folder: `setting`, else $GREENMACHINE_DATA, else the first default that exists.

    Raises DataNotFoundError naming every folder that was tried and how to get the data.
    """
    tried = data_candidates(setting)
    for path in tried:
        if path.is_dir():
            return path
    raise DataNotFoundError(
        "no benchmark data found; looked in: " + ", ".join(map(str, tried)) + f". Set {DATA_ENV} (or data_dir=...) "
        "to a folder holding nats_tss/ and nats_sss/, or run `greenmachine fetch` to download the official "
        "NATS-Bench files and convert them."
    )


def cache_dir(setting: str | os.PathLike | None = None) -> Path:
    """Return the cache folder: `setting`, else $GREENMACHINE_CACHE, else ~/.cache/greenmachine (created)."""
    path = Path(setting or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "greenmachine").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
