"""probe_batch: the probe of a dataset from a source string (`noise`, a .npz file, a CIFAR or ImageNet16 folder);
make_probe: the probe a ProbeConfig describes (`auto` resolved per dataset)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from greenmachine.config import ProbeConfig
from greenmachine.data import cifar, imagenet16, noise, npz  # noqa: F401  (each registers its source kind)
from greenmachine.data.probe import Probe
from greenmachine.data.sources import SOURCES, ProbeSourceError
from greenmachine.datasets import dataset_info
from greenmachine.errors import DataNotFoundError, check_choice
from greenmachine.paths import data_dir

SPLITS = ("train", "test")
# `kind:path`; two or more letters, so a Windows drive letter (`C:\...`) stays part of a path.
_KIND_PREFIX = re.compile(r"([A-Za-z][A-Za-z0-9_]+):(.*)", re.DOTALL)


def _valid_sources() -> str:
    """Return the forms a source string may take, for error messages."""
    layouts = "; ".join(f"{name}: {kind.layout}" for name, kind in SOURCES.items() if kind.recognises)
    return f"valid: 'noise', or a path (optionally prefixed 'kind:') to {layouts}"


def resolve_source(source: str) -> tuple[str, Path | None]:
    """Return (kind, path) for a source string; path is None for `noise`.

    A bare path's kind is the first registered kind that recognises it; a `kind:` prefix names it.
    Raises UnknownNameError for an unknown kind, DataNotFoundError for a path that does not exist or
    does not hold the kind's layout.
    """
    if source == "noise":
        return "noise", None
    prefixed = _KIND_PREFIX.fullmatch(source)
    if prefixed:
        name, rest = prefixed.groups()
        kind = SOURCES[name]
        if kind.recognises is None:
            raise ProbeSourceError(f"probe source {source!r}: kind {name!r} takes no path; write {name!r} alone")
        path = Path(rest).expanduser()
        if not path.exists():
            raise DataNotFoundError(f"probe source {source!r}: {path} does not exist; expected {kind.layout}")
        if not kind.recognises(path):
            raise DataNotFoundError(f"probe source {source!r}: {path} is not {kind.layout}")
        return name, path
    path = Path(source).expanduser()
    if not path.exists():
        raise DataNotFoundError(f"probe source {source!r} is not 'noise' and no such file or folder exists; "
                                f"{_valid_sources()}")
    for name, kind in SOURCES.items():
        if kind.recognises and kind.recognises(path):
            return name, path
    raise DataNotFoundError(f"probe source {source!r} holds no recognised layout; {_valid_sources()}")


def probe_batch(dataset: str, source: str, batch_size: int = 64, seed: int = 0, split: str = "train",
                resolution: int | None = None) -> Probe:
    """Return the probe of `dataset` drawn from `source`, bit-identical for identical arguments.

    Real images are drawn without replacement with numpy `default_rng(seed)`, not augmented, resized
    to the dataset's resolution when needed and normalised with its mean and std; `noise` draws
    N(0, 1) inputs and uniform labels from a torch generator seeded with `seed`.

    Args:
        dataset: a registered dataset (`cifar10`, `cifar10-valid`, `cifar100`, `ImageNet16-120`, `class_scene`, ...).
        source: `noise`, a .npz file, a CIFAR root (holding cifar-10-batches-py/ or cifar-100-python/)
            or an ImageNet16 folder (train_data_batch_1..10, val_data); a `npz:`, `cifar:` or
            `imagenet16:` prefix names the kind explicitly.
        batch_size: B, at least 1 and at most the images available.
        seed: non-negative; draws the images (or the noise).
        split: `train` or `test`; selects the batch files of the CIFAR and ImageNet16 layouts
            (`test` = ImageNet16 `val_data`) and does not apply to noise or a .npz file.
        resolution: image side in pixels (None: the dataset's); images of another size are resized to it.

    Returns:
        Probe with inputs float32 [B, 3, R, R] (R = 32 for CIFAR, 16 for ImageNet16-120), targets
        int64 [B] in 0..num_classes-1, the source kind and an origin naming the exact files.
    """
    info = dataset_info(dataset)
    if resolution is not None:
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise ProbeSourceError(f"resolution={resolution!r}; valid: null (the dataset's {info.resolution}) or an integer >= 1")
        info = replace(info, resolution=resolution)
    check_choice("split", split, SPLITS)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ProbeSourceError(f"batch_size={batch_size!r}; valid: an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ProbeSourceError(f"seed={seed!r}; valid: an integer >= 0")
    kind, path = resolve_source(source)
    return SOURCES[kind].make(info, path, batch_size, seed, split)


# Real probe images that ship with the benchmark data, per dataset (others default to noise).
AUTO_PROBE_FILES = {"cifar10": "images/cifar10_test_500_jpeg.npz", "cifar10-valid": "images/cifar10_test_500_jpeg.npz"}


def probe_source(dataset: str, source: str, data: str | Path | None) -> str:
    """Return the concrete probe source for `source`, resolving `auto` per dataset (real images or noise)."""
    if source != "auto":
        return source
    if dataset in AUTO_PROBE_FILES:
        return str(data_dir(data) / AUTO_PROBE_FILES[dataset])
    return "noise"


def make_probe(dataset: str, config: ProbeConfig, data: str | Path | None = None) -> Probe:
    """Return the probe batch described by `config` for `dataset`."""
    return probe_batch(dataset, probe_source(dataset, config.source, data), batch_size=config.batch_size,
                       seed=config.seed, split=config.split, resolution=config.resolution)
