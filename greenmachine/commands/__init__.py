"""The `greenmachine` subcommands: one module each, registered with `command`; each takes a Hydra config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from greenmachine.registry import Registry


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line summary and the function that runs it on its config."""

    summary: str
    run: Callable[[DictConfig], object]


COMMANDS: Registry[Command] = Registry("command")


def command(name: str, summary: str):
    """Register a subcommand; its Hydra config is `conf/<name>.yaml`."""

    def decorate(fn: Callable[[DictConfig], object]):
        COMMANDS.add(name, Command(summary, fn))
        return fn

    return decorate


def plain(cfg: DictConfig, key: str | None = None) -> dict:
    """Return a config section (or the whole config) as resolved plain Python values."""
    node = cfg if key is None else cfg[key]
    return OmegaConf.to_container(node, resolve=True)


from greenmachine.commands import cache, data, ensemble, evaluate, export, info, search  # noqa: E402,F401  (registers the commands)
