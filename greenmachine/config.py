"""Frozen settings dataclasses and their checked construction from plain dicts (no Hydra here).

Entry points turn Hydra's config into plain dicts and call `build`, which rejects unknown keys and
wrong types with an error naming the key and the valid ones.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from greenmachine.errors import GreenmachineError

T = TypeVar("T")


class ConfigError(GreenmachineError):
    """A config section with an unknown key or a value of the wrong type."""


def build(cls: type[T], values: dict[str, Any] | None, section: str) -> T:
    """Return `cls(**values)` after checking every key is a field of `cls` and every value its type.

    Args:
        cls: a frozen dataclass.
        values: the section's plain values (None = all defaults).
        section: the section's name in the config, for error messages.
    """
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(repr(k) for k in unknown)} in {section}; "
                          f"valid: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _matches(value, hints[key]):
            raise ConfigError(f"{section}.{key} = {value!r} is not a {_describe(hints[key])}")
        if isinstance(value, list):
            values[key] = tuple(value)
    return cls(**values)


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return isinstance(value, (tuple, list)) and all(_matches(v, args[0]) for v in value) if args else True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (tuple, list):
        return f"list of {_describe(typing.get_args(hint)[0])}"
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


@dataclass(frozen=True)
class ProbeConfig:
    """How the probe batch is made (see greenmachine.data.probe_batch).

    Attributes:
        source: `auto`, `noise`, a `.npz` file, or a CIFAR / ImageNet16 folder.
        batch_size: images in the probe.
        seed: draws the images and seeds every network's initialisation.
        split: `train` or `test` for the pickle layouts.
        resolution: image side in pixels; None = the dataset's (32 CIFAR, 16 ImageNet16-120, 64 TransNAS tasks).
    """

    source: str = "auto"
    batch_size: int = 64
    seed: int = 0
    split: str = "train"
    resolution: int | None = None


def resolve_device(device: str) -> str:
    """Return `device` with `auto` replaced by `cuda` when a GPU is present, else `cpu`; validates the name."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device={device!r} is not a torch device; valid: auto, cpu, cuda, cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but no CUDA GPU is available here; use device=cpu or device=auto")
    return device
