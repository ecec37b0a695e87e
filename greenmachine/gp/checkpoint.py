"""Checkpoints of a search: a callback that writes the state after every generation, and reads it back."""

from __future__ import annotations

import pickle
from pathlib import Path

from greenmachine.errors import CorruptFileError, GreenmachineError, describe
from greenmachine.files import atomic_write_pickle
from greenmachine.gp.config import GPConfig
from greenmachine.gp.evolve import GenerationRecord, SearchState
from greenmachine.gp.hall_of_fame import HallOfFame

CHECKPOINT_VERSION = 1
CHECKPOINT_KEYS = {"version", "config", "data_key", "generation", "population", "hall_of_fame", "log", "memo",
                   "random_state", "numpy_state"}


class Checkpoint:
    """Search callback: writes the search state to `path` after every generation (atomically); `load` reads it back.

    Args:
        path: the checkpoint file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __call__(self, record: GenerationRecord, state: SearchState) -> None:
        """Write `state` to the file, atomically (greenmachine.files)."""
        payload = {
            "version": CHECKPOINT_VERSION,
            "config": state.config,
            "data_key": state.data_key,
            "generation": state.generation,
            "population": state.population,
            "hall_of_fame": state.hall_of_fame,
            "log": state.log,
            "memo": state.memo,
            "random_state": state.random_state,
            "numpy_state": state.numpy_state,
        }
        atomic_write_pickle(self.path, payload)

    def load(self, config: GPConfig, data_key: str) -> SearchState | None:
        """Return the state saved in the file, or None when there is none.

        Raises GreenmachineError if it was written by a search with other settings (other than
        `generations`) or other data (`data_key`), or by another greenmachine; CorruptFileError
        naming it if it is empty or damaged.
        """
        path = self.path
        if not path.exists():
            return None
        remedy = "delete it to start the search again from generation 0"
        try:
            with open(path, "rb") as f:
                payload = pickle.load(f)
        except (ImportError, AttributeError) as exc:  # whole, but it names code this greenmachine lacks
            raise GreenmachineError(f"checkpoint {path} was written by another greenmachine ({describe(exc)}); "
                                    f"{remedy}, or resume with the greenmachine that wrote it") from exc
        except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError, pickle.UnpicklingError) as exc:
            raise CorruptFileError(path, describe(exc), remedy) from exc
        if not isinstance(payload, dict):
            raise CorruptFileError(path, f"it holds a {type(payload).__name__}, not a search checkpoint", remedy)
        if payload.get("version") != CHECKPOINT_VERSION:
            raise GreenmachineError(f"checkpoint {path} has format version {payload.get('version')}; "
                                    f"this greenmachine reads version {CHECKPOINT_VERSION}")
        if not CHECKPOINT_KEYS <= set(payload):
            raise CorruptFileError(path, f"it lacks {', '.join(sorted(CHECKPOINT_KEYS - set(payload)))}", remedy)
        differences = [name for name in payload["config"].differences(config) if name != "generations"]
        if differences:
            raise GreenmachineError(f"checkpoint {path} was written by a search with other settings "
                                    f"({', '.join(differences)}); delete it or use those settings")
        if payload["data_key"] != data_key:
            raise GreenmachineError(f"checkpoint {path} was written by a search over other statistics or targets; "
                                    "delete it or search the same data")
        hall_of_fame: HallOfFame = payload["hall_of_fame"]
        return SearchState(config, data_key, payload["generation"], payload["population"], hall_of_fame,
                           payload["log"], payload["memo"], payload["random_state"], payload["numpy_state"])
