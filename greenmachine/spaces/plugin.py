"""A user's own search space, from the smallest contract: arch strings, a builder and accuracies.

A plug-in is any object (or a class or factory, called with the config's other keys) with

- `name`: the space's name;
- `archs`: its arch strings, each once (their positions are the arch indices);
- `build(arch, dataset) -> nn.Module`: the untrained network of an arch string for a dataset;
- `accuracies`: a CSV file in the compact long format (columns `arch, dataset, test_acc`, and
  optionally `epochs`, `valid_acc`, `arch_index`, `space`, `source`; a relative path is read
  next to the plug-in's module), or a callable `(arch, dataset) -> accuracy in percent`;
- optionally `datasets`: dataset names, or name -> DatasetInfo (or a dict with `num_classes`,
  `resolution` and optionally `mean`, `std`) for datasets greenmachine does not know; needed with
  a callable, otherwise read from the CSV.

A `SearchSpace` subclass instance is used as it is. `as_space` checks the contract and says what is
missing or malformed.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from greenmachine.datasets import DATASETS, DatasetInfo
from greenmachine.errors import GreenmachineError
from greenmachine.spaces.base import METRICS, Arch, SearchSpace, SpaceDataset
from greenmachine.spaces.cell import ArchStringError

CONTRACT = "name (str), archs (arch strings), build(arch, dataset) -> nn.Module, accuracies (CSV path or callable)"
REQUIRED_COLUMNS = ("arch", "dataset", "test_acc")
OPTIONAL_COLUMNS = ("epochs", "valid_acc", "arch_index", "space", "source")
IMAGENET_NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class PluginError(GreenmachineError):
    """A plug-in space that breaks the contract, or that cannot be loaded."""


def load_object(ref: str) -> Any:
    """Return the object a reference names: `package.module.attr`, `package.module:attr` or `path/file.py:attr`.

    A file's folder is put on sys.path and the file imported by its stem, so worker processes (and
    pickle) find it by name. Raises PluginError naming the reference and what failed.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise PluginError(f"space _target_={ref!r}; valid: 'package.module.Class', 'package.module:Class' "
                          "or 'path/to/file.py:Class'")
    module_name, sep, attr = ref.rpartition(":") if ":" in ref else ref.rpartition(".")
    if not sep or not module_name or not attr:
        raise PluginError(f"space _target_={ref!r} names no attribute; valid: 'package.module.Class', "
                          "'package.module:Class' or 'path/to/file.py:Class'")
    if module_name.endswith(".py"):
        path = Path(module_name).expanduser().resolve()
        if not path.is_file():
            raise PluginError(f"space _target_={ref!r}: no file {path}")
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        module_name = path.stem
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise PluginError(f"space _target_={ref!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        raise PluginError(f"space _target_={ref!r}: module {module_name!r} has no {attr!r}; "
                          f"it has {', '.join(public)}") from None


def instantiate(target: Any, kwargs: Mapping[str, Any], what: str) -> Any:
    """Return `target(**kwargs)` for a class or factory, `target` itself for an instance (kwargs must be empty)."""
    if inspect.isclass(target) or (callable(target) and not hasattr(target, "archs")):
        try:
            return target(**kwargs)
        except Exception as exc:
            raise PluginError(f"{what}: calling {getattr(target, '__name__', target)!r} with {dict(kwargs)} failed: "
                              f"{type(exc).__name__}: {exc}") from exc
    if kwargs:
        raise PluginError(f"{what} is an object, not a class or factory, so it takes no settings; got {dict(kwargs)}")
    return target


def _dataset_info(name: str, spec: object, space: str) -> DatasetInfo | None:
    """Return the DatasetInfo a plug-in gives for `name` (None: a dataset greenmachine knows)."""
    if spec is None:
        if name not in DATASETS:
            raise PluginError(f"space {space!r}: dataset {name!r} is not one greenmachine knows "
                              f"({', '.join(DATASETS.names())}); give its num_classes and resolution in the "
                              "space's `datasets`, e.g. datasets = {" + repr(name) + ": {'num_classes': 10, 'resolution': 32}}")
        return None
    if isinstance(spec, DatasetInfo):
        return spec
    if isinstance(spec, Mapping) and {"num_classes", "resolution"} <= set(spec):
        mean, std = spec.get("mean", IMAGENET_NORM[0]), spec.get("std", IMAGENET_NORM[1])
        return DatasetInfo(name, int(spec["num_classes"]), int(spec["resolution"]), tuple(mean), tuple(std))
    raise PluginError(f"space {space!r}: datasets[{name!r}] = {spec!r}; valid: a DatasetInfo or a dict with "
                      "num_classes and resolution (and optionally mean, std)")


class PluginSpace(SearchSpace):
    """A SearchSpace around a plug-in object that follows the smallest contract (see the module docstring)."""

    kind = "plugin"
    isomorphic = False
    can_be_broken = False

    def __init__(self, plugin: Any, origin: str, base: Path | None = None):
        missing = [a for a in ("name", "archs", "build", "accuracies") if not hasattr(plugin, a)]
        if missing:
            raise PluginError(f"space plug-in {origin} lacks {', '.join(missing)}; a plug-in needs {CONTRACT}")
        name = plugin.name
        if not isinstance(name, str) or not name or "/" in name:
            raise PluginError(f"space plug-in {origin}: name={name!r}; valid: a non-empty string without '/'")
        archs = plugin.archs
        if isinstance(archs, str) or not isinstance(archs, Sequence) or not archs or \
                not all(isinstance(a, str) and a for a in archs):
            raise PluginError(f"space {name!r}: archs must be a non-empty list of arch strings, got {type(archs).__name__}")
        if len(set(archs)) != len(archs):
            seen: set[str] = set()
            twice = next(a for a in archs if a in seen or seen.add(a))
            raise PluginError(f"space {name!r}: arch {twice!r} is listed more than once; each arch string must be unique")
        if not callable(plugin.build):
            raise PluginError(f"space {name!r}: build must be callable as build(arch, dataset) -> nn.Module")
        source = plugin.accuracies
        if not callable(source) and not isinstance(source, (str, Path)):
            raise PluginError(f"space {name!r}: accuracies={source!r}; valid: a CSV path or a callable (arch, dataset) -> float")
        self.plugin = plugin
        self.name = name
        self.origin = origin
        self.size = len(archs)
        self._archs = list(archs)
        self._index = {a: i for i, a in enumerate(self._archs)}
        self._source = source if callable(source) else self._locate(Path(source), base)
        self._frame = None if callable(source) else self._read_csv(self._source)
        self.datasets = self._datasets(getattr(plugin, "datasets", None))
        self.ground_truth = str(self._source) if not callable(source) else f"{getattr(source, '__qualname__', source)}()"
        self.evaluation_cap = int(getattr(plugin, "evaluation_cap", self.evaluation_cap))

    def _locate(self, path: Path, base: Path | None) -> Path:
        path = path.expanduser()
        if not path.is_absolute() and base is not None and (base / path).is_file():
            path = base / path
        if not path.is_file():
            raise PluginError(f"space {self.name!r}: accuracy table {path} does not exist"
                              + (f" (also looked in {base})" if base is not None else ""))
        return path.resolve()

    def _read_csv(self, path: Path) -> pd.DataFrame:
        try:
            frame = pd.read_csv(path, dtype={"arch": str, "dataset": str})
        except Exception as exc:
            raise PluginError(f"space {self.name!r}: cannot read accuracy table {path}: {type(exc).__name__}: {exc}") from exc
        absent = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if absent:
            raise PluginError(f"accuracy table {path} lacks the column(s) {', '.join(absent)}; it needs "
                              f"{', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)}); it has "
                              f"{', '.join(map(str, frame.columns))}")
        if frame.empty:
            raise PluginError(f"accuracy table {path} has no rows")
        for column in ("test_acc", "valid_acc", "epochs"):
            if column not in frame.columns:
                continue
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = values.isna() & (column == "test_acc" or frame[column].notna())
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raw = frame[column].iloc[row]
                what = "is empty" if pd.isna(raw) else f"= {raw!r} is not a number"
                raise PluginError(f"accuracy table {path}, line {row + 2} (arch {frame.arch.iloc[row]!r}): {column} {what}; "
                                  f"every {column} must be a number")
            frame[column] = values
        unknown = sorted(set(frame.arch) - set(self._index))
        if unknown:
            raise PluginError(f"accuracy table {path} names {len(unknown)} arch(s) that {self.name!r} does not list, e.g. "
                              f"{unknown[0]!r}; valid archs are the space's `archs`, e.g. {self._archs[0]!r}")
        return frame

    def _datasets(self, declared: object) -> tuple[SpaceDataset, ...]:
        if declared is None:
            if self._frame is None:
                raise PluginError(f"space {self.name!r} reads its accuracies from a callable, so it must declare "
                                  "`datasets` (names, or name -> {'num_classes': ..., 'resolution': ...})")
            declared = list(dict.fromkeys(self._frame.dataset))
        items = declared.items() if isinstance(declared, Mapping) else [(d, None) for d in declared]
        datasets = []
        for dataset, spec in items:
            epochs = 0
            if self._frame is not None:
                rows = self._frame[self._frame.dataset == dataset]
                if rows.empty:
                    raise PluginError(f"space {self.name!r}: accuracy table {self._source} has no rows for dataset "
                                      f"{dataset!r}; it has {', '.join(dict.fromkeys(self._frame.dataset))}")
                if "epochs" in rows:
                    epochs = int(rows.epochs.max())
            datasets.append(SpaceDataset(str(dataset), "test", epochs, _dataset_info(str(dataset), spec, self.name)))
        if not datasets:
            raise PluginError(f"space {self.name!r} declares no dataset")
        return tuple(datasets)

    def arch_string(self, index: int) -> str:
        return self._archs[self.check_index(index)]

    def index_of(self, arch_str: str) -> int:
        if arch_str not in self._index:
            raise ArchStringError(f"{arch_str!r} is not an arch of {self.name}: it lists {self.size} archs, "
                                  f"e.g. {', '.join(map(repr, self._archs[:3]))}")
        return self._index[arch_str]

    def build(self, arch: Arch, dataset: str) -> nn.Module:
        """Return the plug-in's network of `arch` for `dataset`; raises PluginError if it is not an nn.Module."""
        self.dataset(dataset)
        _, arch_str = self.resolve(arch)
        net = self.plugin.build(arch_str, dataset)
        if not isinstance(net, nn.Module):
            raise PluginError(f"space {self.name!r}: build({arch_str!r}, {dataset!r}) returned {type(net).__name__}, "
                              "not a torch nn.Module")
        return net

    def load_benchmark(self, data: str | Path | None = None, allow_partial: bool = False):
        """Return the plug-in's ground truth (from its CSV or its callable); the data folder is not read."""
        from greenmachine.benchmark.base import Benchmark

        values: dict[tuple[str, str, int], np.ndarray] = {}
        if self._frame is None:
            for d in self.datasets:
                array = np.array([self._call(a, d.name) for a in self._archs], dtype=np.float64)
                values[(d.name, "test", d.epochs)] = array
        else:
            frame = self._frame
            epochs = frame.epochs.astype(int) if "epochs" in frame else pd.Series(0, index=frame.index)
            index = frame.arch.map(self._index).to_numpy()
            keys = pd.DataFrame({"dataset": frame.dataset, "epochs": epochs})
            twice = keys.assign(index=index).duplicated()
            if twice.any():
                row = int(np.flatnonzero(twice.to_numpy())[0])
                raise PluginError(f"accuracy table {self._source}, line {row + 2}: a second row for arch "
                                  f"{frame.arch.iloc[row]!r} on {frame.dataset.iloc[row]!r}; one row per arch, dataset and epochs")
            for metric in METRICS:
                column = f"{metric}_acc"
                if column not in frame:
                    continue
                for (dataset, ep), rows in keys.groupby(["dataset", "epochs"]).groups.items():
                    present = frame[column].loc[rows].notna().to_numpy()
                    if not present.any():
                        continue
                    array = np.full(self.size, np.nan)
                    array[index[rows][present]] = frame[column].loc[rows].to_numpy(dtype=np.float64)[present]
                    values[(str(dataset), metric, int(ep))] = array
        for (dataset, metric, _), array in values.items():
            lacking = np.flatnonzero(np.isnan(array))
            if metric == "test" and len(lacking) and not allow_partial:
                raise PluginError(f"space {self.name!r}: {self.ground_truth} has no {dataset} test_acc for {len(lacking)} "
                                  f"of its {self.size} archs, e.g. {self._archs[lacking[0]]!r}; every arch in `archs` "
                                  "needs one (or pass allow_partial to rank only those it has)")
        return Benchmark(self.name, values, str(self.ground_truth))

    def _call(self, arch: str, dataset: str) -> float:
        source: Callable[[str, str], object] = self._source
        try:
            value = source(arch, dataset)
        except Exception as exc:
            raise PluginError(f"space {self.name!r}: accuracies({arch!r}, {dataset!r}) raised {type(exc).__name__}: {exc}") from exc
        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(float(value)):
            raise PluginError(f"space {self.name!r}: accuracies({arch!r}, {dataset!r}) returned {value!r}; "
                              "valid: a finite accuracy in percent")
        return float(value)


def as_space(obj: Any, origin: str) -> SearchSpace:
    """Return `obj` as a SearchSpace: itself if it is one, else a PluginSpace checked against the contract."""
    if isinstance(obj, SearchSpace):
        if not isinstance(getattr(obj, "name", None), str) or not isinstance(getattr(obj, "size", None), int):
            raise PluginError(f"space plug-in {origin}: a SearchSpace needs a str `name` and an int `size`")
        obj.origin = origin
        return obj
    module = sys.modules.get(type(obj).__module__)
    base = Path(module.__file__).parent if module is not None and getattr(module, "__file__", None) else None
    return PluginSpace(obj, origin, base)
