"""The statistics cache: content-keyed, columnar, written atomically, resumable.

Layout: `<root>/statistics/<space>/<dataset>/<pass>-<key>/` holds `manifest.json` (the key's
content, human-readable) and shards `part-*.npz`, each the columns of a few archs for that pass.
The key hashes everything a value depends on: space, dataset, the probe (source, batch size, seed,
content digest), the rule that seeds each network's initialisation, the options the pass reads and
the name and version of every statistic it produces. A changed definition therefore lands in a new
folder, never next to stale values. Shards are written to a temporary file and renamed, so a run
killed at any moment leaves only whole shards behind, and a rerun computes what is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from greenmachine.data.probe import Probe
from greenmachine.errors import GreenmachineError
from greenmachine.statistics.core import PASSES, STATISTICS, StatisticsOptions
from greenmachine.statistics.table import StatisticsTable, stack_statistics

CACHE_FORMAT = 1
# Each network is built after torch.manual_seed(init_seed(probe.seed, arch)); bump if the rule changes.
INIT_RULE = "pytorch-default-init;seed=probe_seed*1000003+arch_index"


def init_seed(probe_seed: int, arch_index: int) -> int:
    """Return the seed the network of `arch_index` is initialised with for a probe seeded `probe_seed`."""
    return probe_seed * 1_000_003 + arch_index


@dataclass
class ArchResult:
    """One arch's output of one pass.

    Attributes:
        arch: benchmark index.
        layer: per-layer statistics, name -> float [L].
        scalar: per-network statistics, name -> float.
        seconds: wall time of the pass on this arch.
        joules: energy of the pass where a counter exists, else NaN.
        status: `ok`, `nonfinite:<names>` or `error:<message>`.
    """

    arch: int
    layer: dict[str, np.ndarray] = field(default_factory=dict)
    scalar: dict[str, float] = field(default_factory=dict)
    seconds: float = float("nan")
    joules: float = float("nan")
    status: str = "ok"


def _read_shards(folder: Path) -> list[dict[str, np.ndarray]]:
    """Return the arrays of every `part-*.npz` shard in `folder`, in name order."""
    shards = []
    for path in sorted(folder.glob("part-*.npz")):
        with np.load(path) as data:
            shards.append({k: data[k] for k in data.files})
    return shards


def _atomic_save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class StatisticsCache:
    """The cached statistics of one space and dataset under one probe and options.

    Args:
        root: the cache folder (see greenmachine.paths.cache_dir).
        space, dataset: what the networks are.
        probe: the probe every arch is inspected with.
        options: pass settings.
    """

    def __init__(self, root: Path, space: str, dataset: str, probe: Probe, options: StatisticsOptions):
        self.root, self.space, self.dataset, self.probe, self.options = Path(root), space, dataset, probe, options

    def key_content(self, pass_name: str) -> dict[str, object]:
        """Return everything the values of `pass_name` depend on."""
        spec = PASSES[pass_name]
        return {
            "format": CACHE_FORMAT,
            "space": self.space,
            "dataset": self.dataset,
            "probe": self.probe.settings(),
            "init": INIT_RULE,
            "pass": pass_name,
            "options": {k: getattr(self.options, k) for k in spec.uses},
            "statistics": {s: STATISTICS[s].version for s in spec.produces},
        }

    def pass_dir(self, pass_name: str) -> Path:
        """Return (and create, with its manifest) the folder holding `pass_name`'s shards."""
        content = self.key_content(pass_name)
        key = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
        path = self.root / "statistics" / self.space / self.dataset / f"{pass_name}-{key}"
        if not (path / "manifest.json").is_file():
            path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path / "manifest.json", json.dumps(content, indent=2, sort_keys=True))
        return path

    def write(self, pass_name: str, results: list[ArchResult]) -> Path:
        """Write one shard of `pass_name` results atomically and return its path."""
        spec = PASSES[pass_name]
        layer_names = [s for s in spec.produces if STATISTICS[s].kind == "layer"]
        scalar_names = [s for s in spec.produces if STATISTICS[s].kind == "scalar"]
        depths = np.array([len(r.layer[layer_names[0]]) if layer_names and r.layer else 0 for r in results], np.int32)
        width = int(depths.max(initial=0))
        arrays: dict[str, np.ndarray] = {
            "arch": np.array([r.arch for r in results], np.int64),
            "seconds": np.array([r.seconds for r in results], np.float64),
            "joules": np.array([r.joules for r in results], np.float64),
            "status": np.array([r.status for r in results], dtype=str),
            "depth": depths,
        }
        for name in layer_names:
            column = np.full((len(results), width), np.nan, np.float32)
            for i, r in enumerate(results):
                if name in r.layer:
                    column[i, : depths[i]] = r.layer[name]
            arrays[f"layer.{name}"] = column
        for name in scalar_names:
            arrays[f"scalar.{name}"] = np.array([r.scalar.get(name, np.nan) for r in results], np.float64)
        path = self.pass_dir(pass_name) / f"part-{uuid.uuid4().hex}.npz"
        _atomic_save(path, arrays)
        return path

    def _shards(self, pass_name: str, attempts: int = 5) -> list[dict[str, np.ndarray]]:
        """Return the arrays of every shard of `pass_name`.

        A shard may vanish while it is read because another process compacts the folder (it writes
        the merged shard first, then removes the old ones); the folder is then listed again.
        """
        folder = self.pass_dir(pass_name)
        for _ in range(attempts - 1):
            try:
                return _read_shards(folder)
            except FileNotFoundError:
                continue
        return _read_shards(folder)

    def done(self, pass_name: str) -> set[int]:
        """Return the archs whose `pass_name` results are cached (whatever their status)."""
        return {int(a) for shard in self._shards(pass_name) for a in shard["arch"]}

    def records(self, pass_name: str) -> dict[int, ArchResult]:
        """Return every cached result of `pass_name`, by arch (a later shard wins for a repeated arch)."""
        spec = PASSES[pass_name]
        out: dict[int, ArchResult] = {}
        for shard in self._shards(pass_name):
            for i, arch in enumerate(shard["arch"]):
                depth = int(shard["depth"][i])
                out[int(arch)] = ArchResult(
                    arch=int(arch),
                    layer={s: shard[f"layer.{s}"][i, :depth].astype(np.float64) for s in spec.produces
                           if f"layer.{s}" in shard},
                    scalar={s: float(shard[f"scalar.{s}"][i]) for s in spec.produces if f"scalar.{s}" in shard},
                    seconds=float(shard["seconds"][i]),
                    joules=float(shard["joules"][i]),
                    status=str(shard["status"][i]),
                )
        return out

    def compact(self, pass_name: str) -> None:
        """Merge the shards of `pass_name` into one (written before the old ones are removed)."""
        folder = self.pass_dir(pass_name)
        old = sorted(folder.glob("part-*.npz"))
        if len(old) > 1:
            self.write(pass_name, list(self.records(pass_name).values()))
            for path in old:
                path.unlink()

    def costs(self, passes: list[str], archs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the recorded seconds and joules (NaN where unmeasured) of `passes`, summed per arch [N]."""
        seconds = np.zeros(len(archs))
        joules = np.zeros(len(archs))
        for p in passes:
            records = self.records(p)
            seconds += [records[int(a)].seconds for a in archs]
            joules += [records[int(a)].joules for a in archs]
        return seconds, joules

    def load(self, names: list[str], archs: np.ndarray) -> tuple[StatisticsTable, dict[int, str]]:
        """Return the table of statistics `names` for `archs` (in that order) and the status of each arch.

        Raises GreenmachineError naming the missing archs (and the command that computes them).
        Archs whose status is not `ok` are still returned; their values may be NaN or infinite.
        """
        passes = list(dict.fromkeys(STATISTICS[n].pass_name for n in names))
        records = {p: self.records(p) for p in passes}
        missing = sorted({int(a) for p in passes for a in archs if int(a) not in records[p]})
        if missing:
            raise GreenmachineError(
                f"{len(missing)} of {len(archs)} archs have no cached statistics for {self.space}/{self.dataset} "
                f"under this probe (e.g. {missing[:5]}); compute them with "
                f"`greenmachine cache space={self.space} dataset={self.dataset} ...`")
        rows, status = [], {}
        for a in archs:
            layer, scalar, bad = {}, {}, []
            for p in passes:
                r = records[p][int(a)]
                layer.update(r.layer)
                scalar.update(r.scalar)
                if r.status != "ok":
                    bad.append(f"{p}:{r.status}")
            rows.append((int(a), layer, scalar))
            status[int(a)] = "; ".join(bad) or "ok"
        layer_names = [n for n in names if STATISTICS[n].kind == "layer"]
        scalar_names = [n for n in names if STATISTICS[n].kind == "scalar"]
        return stack_statistics(rows, layer_names, scalar_names), status
