"""One generic name -> implementation registry, filled by decorators next to each implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from greenmachine.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Map names to implementations; a bad lookup lists the valid names.

    Args:
        kind: what the registry holds, used in error messages ("proxy", "primitive", ...).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._watchers: list[Callable[[str, T], None]] = []

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its argument under `name` (duplicates are an error)."""

        def decorate(item: T) -> T:
            self.add(name, item)
            return item

        return decorate

    def add(self, name: str, item: T) -> None:
        """Register `item` under `name`; raises ValueError if the name is taken."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        for watcher in self._watchers:
            watcher(name, item)

    def watch(self, callback: Callable[[str, T], None]) -> None:
        """Call `callback(name, item)` for every item registered now and for each one added later.

        How one registry derives entries from another's (a statistic tagged `baseline` becomes a proxy).
        """
        self._watchers.append(callback)
        for name, item in list(self._items.items()):
            callback(name, item)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        """Return the registered names in registration order."""
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        """Return (name, implementation) pairs in registration order."""
        return list(self._items.items())
