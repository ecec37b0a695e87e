"""User-facing errors: each names the bad value and what would have been valid."""

from __future__ import annotations

from collections.abc import Iterable


class GreenmachineError(ValueError):
    """Base class for every error greenmachine raises on bad input or missing data."""


class UnknownNameError(GreenmachineError, KeyError):
    """A name (space, dataset, proxy, primitive, ...) that is not registered."""

    def __init__(self, kind: str, name: object, valid: Iterable[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class DataNotFoundError(GreenmachineError, FileNotFoundError):
    """Benchmark files, probe images or caches that are not where they were looked for."""


def check_choice(kind: str, value: object, valid: Iterable[object]) -> None:
    """Raise UnknownNameError unless `value` is one of `valid`."""
    valid = list(valid)
    if value not in valid:
        raise UnknownNameError(kind, value, [str(v) for v in valid])


class CorruptFileError(GreenmachineError):
    """A file greenmachine wrote or reads (cache, checkpoint, report, probe, table) that is empty or damaged.

    The message names the file, what is wrong with it and what to do (delete it, rebuild it, ...).
    """

    def __init__(self, path: object, problem: str, remedy: str):
        self.path = path
        super().__init__(f"{path} is corrupt ({problem}); {remedy}")


class CorruptFileWarning(UserWarning):
    """A damaged file that greenmachine set aside and replaces by recomputing what it held."""


def describe(exc: BaseException) -> str:
    """Return `exc` as one short line, `Type: message`, for naming what was wrong with a file."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
