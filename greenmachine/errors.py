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
