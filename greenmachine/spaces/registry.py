"""The registry of search spaces: built in, from entry points, or from a config `_target_`.

A built-in space is a module of this package whose SearchSpace subclass carries `@builtin_space`;
every module of the package is imported the first time a space is looked up, so adding a space is
that module plus its `conf/space/<name>.yaml`. Installed packages add spaces through entry points
of the group `greenmachine.spaces`; a config adds one with `space._target_=package.module.Class` or
`space._target_=path/file.py:Class`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from importlib import metadata
from typing import Any, TypeVar

from greenmachine.datasets import DATASETS
from greenmachine.registry import Registry
from greenmachine.spaces.base import SearchSpace
from greenmachine.spaces.plugin import PluginError, as_space, instantiate, load_object

ENTRY_POINT_GROUP = "greenmachine.spaces"
SPACES: Registry[SearchSpace] = Registry("space")
_discovered = False
S = TypeVar("S", bound=type)


def register_space(obj: Any, origin: str = "built in", config: tuple[tuple[str, Any], ...] = ()) -> SearchSpace:
    """Register a space (a SearchSpace, or a plug-in object following the contract) and return it.

    Registering the same origin again returns the space already registered; another space of the
    same name raises PluginError naming both origins. The space's datasets that greenmachine does
    not know are registered with it.

    Args:
        obj: the space.
        origin: where it came from, shown by `greenmachine info`.
        config: the config section that re-creates it in another process (config plug-ins).
    """
    space = as_space(obj, origin)
    if space.name in SPACES:
        existing = SPACES[space.name]
        if existing.origin == origin:
            return existing
        raise PluginError(f"space {space.name!r} from {origin} clashes with the space of that name from {existing.origin}")
    for d in space.datasets:
        if d.info is None:
            continue
        if d.info.name not in DATASETS:
            DATASETS.add(d.info.name, d.info)
        elif DATASETS[d.info.name] != d.info:
            raise PluginError(f"space {space.name!r} defines dataset {d.info.name!r} as {d.info}, which differs from "
                              f"the registered {DATASETS[d.info.name]}; use the registered one or another name")
    space.config = config
    SPACES.add(space.name, space)
    return space


def builtin_space(cls: S) -> S:
    """Class decorator: register an instance of a built-in SearchSpace subclass when its module is imported."""
    register_space(cls(), f"built in ({cls.__module__})")
    return cls


def discover() -> None:
    """Import every module of the spaces package and register the entry-point spaces of installed packages (once)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("greenmachine.spaces")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"greenmachine.spaces.{module.name}")
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {entry.name!r} ({entry.value}" + (f", package {entry.dist.name})" if entry.dist else ")")
        try:
            target = entry.load()
        except Exception as exc:
            raise PluginError(f"space {origin}: loading it failed: {type(exc).__name__}: {exc}") from exc
        register_space(instantiate(target, {}, f"space {origin}"), origin)


def get_space(name: str) -> SearchSpace:
    """Return the search space called `name`; raises UnknownNameError listing every registered space."""
    if name not in SPACES:
        discover()
    return SPACES[name]


def all_spaces() -> list[SearchSpace]:
    """Return every registered space: built-in ones, entry points, and config plug-ins registered so far."""
    discover()
    return [SPACES[name] for name in SPACES]


def space_from_config(node: Mapping[str, Any]) -> SearchSpace:
    """Return the space a config's `space` section names: `name`, or a plug-in's `_target_` and its settings.

    A `_target_` is imported (see load_object); a class or factory is called with the section's
    other keys (all but `name`), and the result registered as a config plug-in.
    """
    node = dict(node)
    target = node.pop("_target_", None)
    if target is None:
        if node.get("name") is None:
            raise PluginError("the space section names no space: set space=<name> (" + ", ".join(
                s.name for s in all_spaces()) + ") or space=plugin space._target_=<module.Class or path/file.py:Class>")
        return get_space(node["name"])
    settings = {k: v for k, v in node.items() if k != "name"}
    origin = f"config _target_ {target}" + (f" {settings}" if settings else "")
    obj = instantiate(load_object(str(target)), settings, f"space _target_={target}")
    return register_space(obj, origin, config=(("_target_", target), *sorted(settings.items())))
