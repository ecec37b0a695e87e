"""The statistics cache: content-keyed, columnar, written atomically, resumable.

Layout: `<root>/statistics/<space>/<dataset>/<pass>-<key>/` holds `manifest.json` (the key's
content, human-readable) and shards `part-*.npz`, each the columns of a few archs for that pass.
The key hashes everything a value depends on: space, dataset, the probe (source, batch size, seed,
content digest), the rule that seeds each network's initialisation, the options the pass reads and
the name and version of every statistic it produces. A changed definition therefore lands in a new
folder, never next to stale values. Shards are written to a temporary file and renamed, so a run
killed at any moment leaves only whole shards behind, and a rerun computes what is missing.

Several processes may fill one cache at once: readers hold a shared lock on the folder's `.lock`
while they list and read shards, and compaction an exclusive one, so a shard never vanishes under a
reader; `claims/<arch>.lock` is held by the process computing that arch (see runner.fill_cache). A
shard that cannot be read is renamed aside to `<shard>.corrupt` with a CorruptFileWarning, so its
archs count as missing and are computed again, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from greenmachine.data.probe import Probe
from greenmachine.energy import ESTIMATED, MEASURED, Energy, estimate_from_seconds
from greenmachine.errors import CorruptFileWarning, GreenmachineError, describe
from greenmachine.files import atomic_write_npz, atomic_write_text
from greenmachine.locks import Claim, file_lock
from greenmachine.statistics.core import PASSES, STATISTICS, StatisticsOptions, split_by_kind
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
        joules: energy of the pass, measured where a counter exists, else estimated (NaN in shards
            written before energy was estimated: see StatisticsCache.costs).
        energy_source: `measured` or `estimated`.
        status: `ok`, `nonfinite:<names>` or `error:<message>`.
    """

    arch: int
    layer: dict[str, np.ndarray] = field(default_factory=dict)
    scalar: dict[str, float] = field(default_factory=dict)
    seconds: float = float("nan")
    joules: float = float("nan")
    status: str = "ok"
    energy_source: str = ESTIMATED


@dataclass(frozen=True)
class Cost:
    """What the statistics of some archs cost when they were computed.

    Attributes:
        seconds: recorded wall time per arch, float [N].
        joules: energy per arch, float [N].
        measured: whether each arch's joules were all read from a counter (else estimated), bool [N].
    """

    seconds: np.ndarray
    joules: np.ndarray
    measured: np.ndarray

    @property
    def source(self) -> str:
        """Return `measured` if every arch's joules were measured, else `estimated`."""
        return MEASURED if self.measured.all() else ESTIMATED

    def energy(self) -> Energy:
        """Return the energy of all the archs, labelled."""
        return Energy(float(self.joules.sum()), self.source)

    def energy_per_arch(self) -> Energy:
        """Return the mean energy per arch, labelled (NaN for no arch)."""
        return Energy(float(self.joules.mean()) if len(self.joules) else float("nan"), self.source)


# Columns every shard has, one row per arch (layer.* and scalar.* columns depend on the pass).
SHARD_COLUMNS = ("arch", "seconds", "joules", "status", "depth")
LOCK_NAME = ".lock"


def _load_shard(path: Path) -> dict[str, np.ndarray]:
    """Return the arrays of the shard at `path`, read in full (so a damaged one fails here).

    Raises FileNotFoundError if it is gone, ValueError naming what is wrong if it is damaged.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except PermissionError as exc:  # not damaged: not ours to set aside
        raise GreenmachineError(f"cannot read the statistics cache shard {path} ({describe(exc)}); "
                                "give this user read access to the cache folder or use another cache_dir") from exc
    except (OSError, ValueError, EOFError, KeyError, NotImplementedError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(describe(exc)) from exc
    missing = [c for c in SHARD_COLUMNS if c not in arrays]
    if missing:
        raise ValueError(f"it lacks the columns {', '.join(missing)}")
    rows = {len(a) for a in arrays.values()}
    if len(rows) != 1:
        raise ValueError(f"its columns have different lengths {sorted(rows)}")
    return arrays


def quarantine(path: Path, problem: str) -> Path:
    """Rename the damaged shard `path` to `<path>.corrupt` with a warning; return the new path."""
    aside = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, aside)
    except FileNotFoundError:  # another reader set it aside first
        return aside
    warnings.warn(f"statistics cache shard {path} is corrupt ({problem}); moved aside to {aside.name}, its archs "
                  "will be computed again (delete the .corrupt file once you no longer need it)",
                  CorruptFileWarning, stacklevel=3)
    return aside


def _read_shards(folder: Path, known: frozenset[str] = frozenset()) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Return the names of the whole shards `part-*.npz` in `folder` (name order) and the arrays of those not in `known`.

    Runs under the folder's shared lock, so no compaction removes a shard meanwhile; a shard that
    cannot be read is quarantined and left out.
    """
    with file_lock(folder / LOCK_NAME, shared=True):
        names, arrays = [], {}
        for path in sorted(folder.glob("part-*.npz")):
            if path.name not in known:
                try:
                    arrays[path.name] = _load_shard(path)
                except ValueError as exc:
                    quarantine(path, str(exc))
                    continue
            names.append(path.name)
        return names, arrays


def _records(pass_name: str, shards: list[dict[str, np.ndarray]]) -> dict[int, ArchResult]:
    """Return the results held by `shards` of `pass_name`, by arch (a later shard wins for a repeated arch)."""
    spec = PASSES[pass_name]
    out: dict[int, ArchResult] = {}
    for shard in shards:
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
                energy_source=str(shard["energy_source"][i]) if "energy_source" in shard else
                MEASURED if np.isfinite(shard["joules"][i]) else ESTIMATED,  # older shards: finite = a counter's
            )
    return out


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
        self._checked: set[str] = set()  # passes whose manifest this object has checked
        # pass -> shard name -> its archs; a shard's name is never reused, so its archs never change
        self._archs: dict[str, dict[str, frozenset[int]]] = {}

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
        """Return (and create, with its manifest) the folder holding `pass_name`'s shards.

        A manifest that is unreadable or does not describe the folder's key (it is only ever written
        from that key) is written again, with a CorruptFileWarning.
        """
        content = self.key_content(pass_name)
        key = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
        path = self.root / "statistics" / self.space / self.dataset / f"{pass_name}-{key}"
        manifest = path / "manifest.json"
        text = json.dumps(content, indent=2, sort_keys=True)
        if not manifest.is_file():
            path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(manifest, text)
        elif pass_name not in self._checked:
            try:
                problem = None if json.loads(manifest.read_text()) == json.loads(text) else "it describes another key"
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                problem = describe(exc)
            if problem is not None:
                warnings.warn(f"statistics cache manifest {manifest} is corrupt ({problem}); written again from the "
                              "folder's key (its shards are unaffected)", CorruptFileWarning, stacklevel=2)
                atomic_write_text(manifest, text)
        self._checked.add(pass_name)
        return path

    def claim_path(self, pass_name: str, arch: int) -> Path:
        """Return the file whose Claim a process holds while it computes `arch`'s `pass_name` results."""
        return self.pass_dir(pass_name) / "claims" / f"{int(arch)}.lock"

    def claim(self, pass_name: str, arch: int) -> Claim | None:
        """Return this process's claim on computing `arch`'s `pass_name` results, or None if another holds it."""
        return Claim.take(self.claim_path(pass_name, arch))

    def write(self, pass_name: str, results: list[ArchResult]) -> Path:
        """Write one shard of `pass_name` results atomically and return its path."""
        spec = PASSES[pass_name]
        layer_names, scalar_names = split_by_kind(spec.produces)
        depths = np.array([len(r.layer[layer_names[0]]) if layer_names and r.layer else 0 for r in results], np.int32)
        width = int(depths.max(initial=0))
        arrays: dict[str, np.ndarray] = {
            "arch": np.array([r.arch for r in results], np.int64),
            "seconds": np.array([r.seconds for r in results], np.float64),
            "joules": np.array([r.joules for r in results], np.float64),
            "status": np.array([r.status for r in results], dtype=str),
            "energy_source": np.array([r.energy_source for r in results], dtype=str),
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
        atomic_write_npz(path, arrays)
        return path

    def _read(self, pass_name: str, known: frozenset[str] = frozenset(),
              attempts: int = 5) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
        """Return the names of `pass_name`'s shards and the arrays of those not in `known` (see _read_shards).

        A shard may vanish between listing and reading because another reader quarantined it; the
        folder is then listed again.
        """
        folder = self.pass_dir(pass_name)
        for _ in range(attempts - 1):
            try:
                return _read_shards(folder, known)
            except FileNotFoundError:
                continue
        return _read_shards(folder, known)

    def _shards(self, pass_name: str) -> list[dict[str, np.ndarray]]:
        """Return the arrays of every shard of `pass_name`, in name order."""
        names, arrays = self._read(pass_name)
        return [arrays[n] for n in names]

    def done(self, pass_name: str) -> set[int]:
        """Return the archs whose `pass_name` results are cached (whatever their status).

        Only shards this object has not seen yet are read, so asking again while a fill runs is cheap.
        """
        seen = self._archs.setdefault(pass_name, {})
        names, arrays = self._read(pass_name, frozenset(seen))
        current = {n: seen[n] if n in seen else frozenset(int(a) for a in arrays[n]["arch"]) for n in names}
        self._archs[pass_name] = current
        return set().union(*current.values())

    def records(self, pass_name: str) -> dict[int, ArchResult]:
        """Return every cached result of `pass_name`, by arch (a later shard wins for a repeated arch)."""
        return _records(pass_name, self._shards(pass_name))

    def compact(self, pass_name: str) -> None:
        """Merge the shards of `pass_name` into one (written before the old ones are removed).

        Holds the folder's exclusive lock, so concurrent readers and compactions wait, and no shard
        vanishes under it; shards written meanwhile by other processes are kept as they are.
        """
        folder = self.pass_dir(pass_name)
        with file_lock(folder / LOCK_NAME):
            old, shards = [], []
            for path in sorted(folder.glob("part-*.npz")):
                try:
                    shards.append(_load_shard(path))
                    old.append(path)
                except FileNotFoundError:  # removed by a process that does not take the lock
                    continue
                except ValueError as exc:
                    quarantine(path, str(exc))
            if len(old) > 1:
                self.write(pass_name, list(_records(pass_name, shards).values()))
                for path in old:
                    path.unlink(missing_ok=True)

    def costs(self, passes: list[str], archs: np.ndarray) -> Cost:
        """Return the recorded seconds and joules of `passes`, summed per arch.

        A record without joules (written before energy was estimated) is estimated from its recorded
        seconds (energy.estimate_from_seconds).
        """
        seconds = np.zeros(len(archs))
        joules = np.zeros(len(archs))
        measured = np.ones(len(archs), dtype=bool)
        for p in passes:
            held = self.records(p)
            records = [held[int(a)] for a in archs]
            seconds += [r.seconds for r in records]
            joules += [r.joules if np.isfinite(r.joules) else estimate_from_seconds(r.seconds) for r in records]
            measured &= np.array([r.energy_source == MEASURED and np.isfinite(r.joules) for r in records], dtype=bool)
        return Cost(seconds, joules, measured)

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
        return stack_statistics(rows, names), status
