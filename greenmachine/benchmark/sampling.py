"""Samples of archs: random or stratified by accuracy, each with a disjoint holdout, deterministic per seed.

A sample records exactly how it was drawn (its protocol and the realised strata), so a run can
state its protocol.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from numbers import Integral

import numpy as np

from greenmachine.benchmark.base import Benchmark
from greenmachine.errors import GreenmachineError, check_choice
from greenmachine.spaces import get_space

STRATEGIES = ("random", "stratified")
BINNINGS = ("width", "quantile")


def _integer(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise GreenmachineError(f"sampling {name}={value!r}; valid: an integer >= {low}")
    return int(value)


@dataclass(frozen=True)
class SampleProtocol:
    """How a sample is drawn.

    Attributes:
        strategy: `random` or `stratified` (by accuracy bins).
        n: search archs (stratified: used when `per_bin` is None, spread evenly over the bins).
        holdout_n: holdout archs, drawn the same way from the archs left over.
        binning: `width` (equal-width accuracy bins) or `quantile` (equal-count accuracy bins); stratified only.
        bins: number of strata; stratified only.
        per_bin: search archs per bin (a bin with fewer takes all; the realised counts are recorded);
            None = n spread over the bins as evenly as their sizes allow (a small bin's unused share
            goes to the others). Stratified only.
        dataset, metric, epochs: the accuracy that defines the strata and which archs have a record
            (None = the space's default dataset and that dataset's metric and epochs; the drawn Sample's
            protocol holds the resolved values).
        seed: the only randomness (numpy.random.default_rng(seed)).
        unique: keep one arch per isomorphism class (the lowest index of the class) where the space has
            isomorphic archs (`SearchSpace.isomorphic`: TSS, TransNAS micro); a no-op elsewhere.
        drop_broken: drop archs with no path from input to output where the space can have them
            (`SearchSpace.can_be_broken`: TSS has 341); a no-op elsewhere.
        exclude: archs never drawn (e.g. the fixed evaluation holdout); stored sorted and deduplicated.
    """

    strategy: str = "stratified"
    n: int = 1000
    holdout_n: int = 1000
    binning: str = "width"
    bins: int = 10
    per_bin: int | None = None
    dataset: str | None = None
    metric: str | None = None
    epochs: int | None = None
    seed: int = 0
    unique: bool = False
    drop_broken: bool = False
    exclude: tuple[int, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        check_choice("sampling strategy", self.strategy, STRATEGIES)
        check_choice("binning", self.binning, BINNINGS)
        for name, low in (("n", 1), ("holdout_n", 0), ("bins", 1), ("seed", 0)):
            object.__setattr__(self, name, _integer(name, getattr(self, name), low))
        if self.per_bin is not None:
            if self.strategy != "stratified":
                raise GreenmachineError(f"sampling per_bin={self.per_bin!r} applies only to strategy 'stratified', "
                                        f"not {self.strategy!r}; valid for {self.strategy!r}: null")
            object.__setattr__(self, "per_bin", _integer("per_bin", self.per_bin, 1))
        if self.epochs is not None:
            object.__setattr__(self, "epochs", _integer("epochs", self.epochs, 1))
        exclude = sorted({_integer("exclude entry", a, 0) for a in np.asarray(self.exclude).ravel().tolist()})
        object.__setattr__(self, "exclude", tuple(exclude))

    def exclude_digest(self) -> str:
        """Return a short sha256 of the excluded arch indices (identifies the set exactly in a run record)."""
        return hashlib.sha256(",".join(map(str, self.exclude)).encode()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Sample:
    """A drawn sample.

    Attributes:
        search: arch indices the search sees, int64 [n], sorted within each bin.
        holdout: disjoint arch indices drawn the same way, int64 [holdout_n].
        protocol: how they were drawn (epochs resolved).
        edges: bin edges in accuracy points, [bins + 1] (stratified), else empty.
        search_counts, holdout_counts: realised archs per bin, [bins] (stratified), else empty.
        candidates: archs that could be drawn (with a record, not excluded, filters applied).
        space: the space the arch indices belong to.
        bin_sizes: candidates per bin, [bins] (stratified), else empty.
    """

    search: np.ndarray
    holdout: np.ndarray
    protocol: SampleProtocol
    edges: tuple[float, ...] = ()
    search_counts: tuple[int, ...] = ()
    holdout_counts: tuple[int, ...] = ()
    candidates: int = 0
    space: str = ""
    bin_sizes: tuple[int, ...] = ()

    def filters_apply(self) -> bool:
        """Return whether `unique` or `drop_broken` can act on this sample's space."""
        space = get_space(self.space)
        return space.isomorphic or space.can_be_broken

    def to_dict(self) -> dict[str, object]:
        """Return the protocol and realised strata as JSON-ready values (the excluded archs as count and digest)."""
        protocol = asdict(self.protocol)
        protocol["exclude"] = len(self.protocol.exclude)
        protocol["exclude_sha256"] = self.protocol.exclude_digest()
        return {"space": self.space, "protocol": protocol, "search": len(self.search), "holdout": len(self.holdout),
                "edges": [round(e, 4) for e in self.edges], "bin_sizes": list(self.bin_sizes),
                "search_counts": list(self.search_counts), "holdout_counts": list(self.holdout_counts),
                "candidates": self.candidates, "filters_apply": self.filters_apply()}

    def describe(self) -> str:
        """Return one sentence saying exactly how the sample was drawn."""
        p = self.protocol
        filters = [f for f, on in (("one arch per isomorphism class", p.unique), ("no broken cells", p.drop_broken)) if on]
        if filters and not self.filters_apply():
            filters = [f"unique/drop_broken are no-ops for {self.space} (no isomorphic or broken archs)"]
        text = (f"{p.strategy} {self.space} sample of {len(self.search)} search and {len(self.holdout)} holdout archs "
                f"from {self.candidates} candidates ({p.dataset} {p.metric} accuracy at {p.epochs} epochs, seed {p.seed}"
                + (f", {len(p.exclude)} evaluation archs excluded (sha256 {p.exclude_digest()})" if p.exclude else "")
                + (", " + ", ".join(filters) if filters else "") + ")")
        if p.strategy == "stratified":
            edges = ", ".join(f"{e:.2f}" for e in self.edges)
            asked = f"{p.per_bin} per bin" if p.per_bin is not None else f"n={p.n} spread over the bins"
            text += (f"; {p.bins} {'equal-width' if p.binning == 'width' else 'quantile'} accuracy bins with edges "
                     f"[{edges}] holding {list(self.bin_sizes)} candidates, {asked}: search per bin "
                     f"{list(self.search_counts)}, holdout per bin {list(self.holdout_counts)}")
        return text


@lru_cache(maxsize=8)
def _cell_masks(space: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (connected, class representative) bool [size] masks of a space's archs."""
    ours = get_space(space)
    strings = [ours.arch_string(i) for i in range(ours.size)]
    connected = np.array([ours.is_connected(s) for s in strings]) if ours.can_be_broken else np.ones(ours.size, bool)
    first: dict[str, int] = {}
    for i, s in enumerate(strings):
        first.setdefault(ours.unique_key(s) if ours.isomorphic else s, i)
    representative = np.zeros(ours.size, dtype=bool)
    representative[list(first.values())] = True
    for mask in (connected, representative):
        mask.flags.writeable = False
    return connected, representative


def resolved(bench: Benchmark, protocol: SampleProtocol) -> SampleProtocol:
    """Return `protocol` with its dataset, metric and epochs filled in from the space's defaults and checked."""
    dataset, metric, epochs = bench.target(protocol.dataset or get_space(bench.space).dataset().name, protocol.metric,
                                           protocol.epochs)
    return replace(protocol, dataset=dataset, metric=metric, epochs=epochs)


def candidate_archs(bench: Benchmark, protocol: SampleProtocol) -> np.ndarray:
    """Return the archs a protocol may draw, int64 sorted: with an accuracy record, not excluded, filters applied.

    `unique` keeps the lowest index of each isomorphism class; if that arch is excluded or has no
    record, the class is left out. Raises GreenmachineError for excluded indices outside the space.
    """
    protocol = resolved(bench, protocol)
    accuracy = bench.accuracies(protocol.dataset, protocol.metric, protocol.epochs)
    keep = np.isfinite(accuracy)
    if protocol.exclude and protocol.exclude[-1] >= bench.size:
        bad = [a for a in protocol.exclude if a >= bench.size]
        raise GreenmachineError(f"sampling exclude holds arch indices outside {bench.space} ({bad[:5]}...); "
                                f"valid: 0..{bench.size - 1}")
    keep[np.asarray(protocol.exclude, dtype=np.int64)] = False
    space = get_space(bench.space)
    if (space.isomorphic or space.can_be_broken) and (protocol.unique or protocol.drop_broken):
        connected, representative = _cell_masks(bench.space)
        if protocol.drop_broken:
            keep &= connected
        if protocol.unique:
            keep &= representative
    return np.flatnonzero(keep).astype(np.int64)


def _draw_check(k: int, available: int, what: str) -> None:
    if k > available:
        raise GreenmachineError(f"cannot draw {k} {what} archs: only {available} are available")


def _draw(rng: np.random.Generator, pool: np.ndarray, k: int, what: str) -> np.ndarray:
    _draw_check(k, len(pool), what)
    return np.sort(rng.choice(pool, size=k, replace=False)) if k else np.array([], dtype=np.int64)


def spread(total: int, capacity: np.ndarray) -> np.ndarray:
    """Return per-bin counts summing to min(total, capacity.sum()), as even as the capacities allow."""
    counts = np.zeros_like(capacity)
    left = min(total, int(capacity.sum()))
    while left > 0:
        open_bins = np.flatnonzero(counts < capacity)
        share = max(1, left // len(open_bins))
        for b in open_bins:
            take = min(share, capacity[b] - counts[b], left)
            counts[b] += take
            left -= take
            if left == 0:
                break
    return counts


def draw_sample(bench: Benchmark, protocol: SampleProtocol) -> Sample:
    """Return the sample `protocol` describes (the same sample for the same protocol and benchmark).

    Raises GreenmachineError naming both numbers when more archs are asked for than there are candidates.
    """
    protocol = resolved(bench, protocol)
    rng = np.random.default_rng(protocol.seed)
    pool = candidate_archs(bench, protocol)
    if protocol.strategy == "random":
        search = _draw(rng, pool, protocol.n, "search")
        holdout = _draw(rng, np.setdiff1d(pool, search), protocol.holdout_n, "holdout")
        return Sample(search.astype(np.int64), holdout.astype(np.int64), protocol, candidates=len(pool),
                      space=bench.space)
    if not len(pool):
        raise GreenmachineError(f"cannot draw a stratified sample: no {bench.space} arch is a candidate")
    accuracy = bench.accuracies(protocol.dataset, protocol.metric, protocol.epochs)[pool]
    if protocol.binning == "width":
        edges = np.linspace(accuracy.min(), accuracy.max(), protocol.bins + 1)
    else:
        edges = np.quantile(accuracy, np.linspace(0, 1, protocol.bins + 1))
    strata = np.clip(np.searchsorted(edges, accuracy, side="right") - 1, 0, protocol.bins - 1)
    members = [pool[strata == b] for b in range(protocol.bins)]
    sizes = np.array([len(m) for m in members])
    if protocol.per_bin is not None:
        search_counts = np.minimum(sizes, protocol.per_bin)
    else:
        _draw_check(protocol.n, len(pool), "search")
        search_counts = spread(protocol.n, sizes)
    _draw_check(protocol.holdout_n, len(pool) - int(search_counts.sum()), "holdout")
    holdout_counts = spread(protocol.holdout_n, sizes - search_counts)
    search, holdout = [], []
    for b in range(protocol.bins):
        chosen = _draw(rng, members[b], int(search_counts[b]), "search")
        search.append(chosen)
        holdout.append(_draw(rng, np.setdiff1d(members[b], chosen), int(holdout_counts[b]), "holdout"))
    return Sample(np.concatenate(search).astype(np.int64), np.concatenate(holdout).astype(np.int64), protocol,
                  tuple(float(e) for e in edges), tuple(len(s) for s in search), tuple(len(h) for h in holdout),
                  len(pool), bench.space, tuple(int(s) for s in sizes))


PERMUTATION_SEED = 0


def space_permutation(space: str) -> np.ndarray:
    """Return the fixed random order of a space's archs (seed 0) that fixed holdouts and `archs=N` take from."""
    return np.random.default_rng(PERMUTATION_SEED).permutation(get_space(space).size)


def fixed_holdout(bench: Benchmark, n: int | None = None, dataset: str | None = None, metric: str | None = None,
                  epochs: int | None = None) -> np.ndarray:
    """Return the fixed random evaluation holdout of a space: n archs with a record, int64 [n], sorted.

    It is the first n archs with a record in `space_permutation`, so it depends only on the space
    and n (and a holdout of n archs contains every smaller one); every search excludes it, so numbers
    reported on it are on archs no search saw. When n reaches the archs with a record, it is all of them.
    None n is the space's `evaluation_size` (3,000 for NATS, a third of a smaller space); None
    dataset, metric and epochs are the space's defaults.
    """
    space = get_space(bench.space)
    n = _integer("fixed holdout n", space.evaluation_size if n is None else n, 1)
    order = space_permutation(bench.space)
    order = order[np.isfinite(bench.accuracies(dataset or space.dataset().name, metric, epochs)[order])]
    return np.sort(order[:n]).astype(np.int64)
