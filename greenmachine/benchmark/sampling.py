"""Samples of archs: random or stratified by accuracy, each with a disjoint holdout, deterministic per seed.

A sample records exactly how it was drawn (its protocol and the realised strata), so a run can
state its protocol.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from greenmachine.benchmark.base import Benchmark
from greenmachine.errors import GreenmachineError, check_choice
from greenmachine.spaces import get_space
from greenmachine.spaces.isomorphism import unique_str

STRATEGIES = ("random", "stratified")
BINNINGS = ("width", "quantile")


@dataclass(frozen=True)
class SampleProtocol:
    """How a sample is drawn.

    Attributes:
        strategy: `random` or `stratified` (by accuracy bins).
        n: search archs (stratified: used when `per_bin` is None, spread evenly over the bins).
        holdout_n: holdout archs, drawn the same way from the archs left over.
        binning: `width` (equal-width accuracy bins) or `quantile` (equal-count accuracy bins).
        bins: number of strata.
        per_bin: search archs per bin (a bin with fewer takes all); None = n spread over the bins as
            evenly as their sizes allow (a small bin's unused share goes to the others).
        dataset, metric, epochs: the accuracy that defines the strata (None epochs = space default).
        seed: the only randomness.
        unique: keep one arch per isomorphism class (TSS; the lowest index).
        drop_broken: drop archs whose cell has no path from input to output (TSS).
        exclude: archs never drawn (e.g. the fixed evaluation holdout).
    """

    strategy: str = "stratified"
    n: int = 1000
    holdout_n: int = 1000
    binning: str = "width"
    bins: int = 10
    per_bin: int | None = None
    dataset: str = "cifar10"
    metric: str = "test"
    epochs: int | None = None
    seed: int = 0
    unique: bool = False
    drop_broken: bool = False
    exclude: tuple[int, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        check_choice("sampling strategy", self.strategy, STRATEGIES)
        check_choice("binning", self.binning, BINNINGS)
        for name in ("n", "holdout_n", "bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (1 if name != "holdout_n" else 0):
                raise GreenmachineError(f"sampling {name}={value!r}; valid: an integer >= {1 if name != 'holdout_n' else 0}")
        if self.per_bin is not None and self.per_bin < 1:
            raise GreenmachineError(f"sampling per_bin={self.per_bin!r}; valid: an integer >= 1, or null")


@dataclass(frozen=True)
class Sample:
    """A drawn sample.

    Attributes:
        search: arch indices the search sees, int64 [n].
        holdout: disjoint arch indices drawn the same way, int64 [holdout_n].
        protocol: how they were drawn.
        edges: bin edges in accuracy points (stratified), else empty.
        search_counts, holdout_counts: realised archs per bin (stratified), else empty.
        candidates: archs that could be drawn (after exclusions and filters).
    """

    search: np.ndarray
    holdout: np.ndarray
    protocol: SampleProtocol
    edges: tuple[float, ...] = ()
    search_counts: tuple[int, ...] = ()
    holdout_counts: tuple[int, ...] = ()
    candidates: int = 0

    def to_dict(self) -> dict[str, object]:
        """Return the protocol and realised strata as plain values (for run records)."""
        protocol = asdict(self.protocol)
        protocol["exclude"] = len(self.protocol.exclude)
        return {"protocol": protocol, "search": len(self.search), "holdout": len(self.holdout),
                "edges": [round(e, 4) for e in self.edges], "search_counts": list(self.search_counts),
                "holdout_counts": list(self.holdout_counts), "candidates": self.candidates}

    def describe(self) -> str:
        """Return one sentence saying how the sample was drawn."""
        p = self.protocol
        filters = [f for f, on in (("one arch per isomorphism class", p.unique), ("no broken cells", p.drop_broken)) if on]
        text = (f"{p.strategy} sample of {len(self.search)} search and {len(self.holdout)} holdout archs from "
                f"{self.candidates} candidates ({p.dataset} {p.metric} accuracy, seed {p.seed}"
                + (f", {len(p.exclude)} evaluation archs excluded" if p.exclude else "")
                + (", " + ", ".join(filters) if filters else "") + ")")
        if p.strategy == "stratified":
            edges = ", ".join(f"{e:.2f}" for e in self.edges)
            text += (f"; {p.bins} {'equal-width' if p.binning == 'width' else 'quantile'} accuracy bins with edges "
                     f"[{edges}], search per bin {list(self.search_counts)}, holdout per bin {list(self.holdout_counts)}")
        return text


def candidate_archs(bench: Benchmark, protocol: SampleProtocol) -> np.ndarray:
    """Return the archs a protocol may draw: with an accuracy record, not excluded, filters applied."""
    accuracy = bench.accuracies(protocol.dataset, protocol.metric, protocol.epochs)
    keep = np.isfinite(accuracy)
    keep[np.asarray(protocol.exclude, dtype=np.int64)] = False
    if bench.space == "nats_tss" and (protocol.unique or protocol.drop_broken):
        space = get_space(bench.space)
        strings = [space.arch_string(i) for i in range(space.size)]
        if protocol.drop_broken:
            from greenmachine.spaces.cell import Genotype

            keep &= np.array([Genotype.parse(s).is_connected() for s in strings])
        if protocol.unique:
            first: dict[str, int] = {}
            for i, s in enumerate(strings):
                first.setdefault(unique_str(s), i)
            representative = np.zeros(space.size, dtype=bool)
            representative[list(first.values())] = True
            keep &= representative
    return np.flatnonzero(keep)


def _draw(rng: np.random.Generator, pool: np.ndarray, k: int, what: str) -> np.ndarray:
    if k > len(pool):
        raise GreenmachineError(f"cannot draw {k} {what} archs: only {len(pool)} are available")
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
    """Return the sample `protocol` describes (the same sample for the same protocol and benchmark)."""
    rng = np.random.default_rng(protocol.seed)
    pool = candidate_archs(bench, protocol)
    if protocol.strategy == "random":
        search = _draw(rng, pool, protocol.n, "search")
        holdout = _draw(rng, np.setdiff1d(pool, search), protocol.holdout_n, "holdout")
        return Sample(search.astype(np.int64), holdout.astype(np.int64), protocol, candidates=len(pool))
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
        search_counts = spread(protocol.n, sizes)
    holdout_counts = spread(protocol.holdout_n, sizes - search_counts)
    search, holdout = [], []
    for b in range(protocol.bins):
        chosen = _draw(rng, members[b], int(search_counts[b]), "search")
        search.append(chosen)
        holdout.append(_draw(rng, np.setdiff1d(members[b], chosen), int(holdout_counts[b]), "holdout"))
    return Sample(np.concatenate(search).astype(np.int64), np.concatenate(holdout).astype(np.int64), protocol,
                  tuple(float(e) for e in edges), tuple(len(s) for s in search), tuple(len(h) for h in holdout),
                  len(pool))


PERMUTATION_SEED = 0


def space_permutation(space: str) -> np.ndarray:
    """Return the fixed random order of a space's archs (seed 0) that fixed holdouts and `archs=N` take from."""
    return np.random.default_rng(PERMUTATION_SEED).permutation(get_space(space).size)


def fixed_holdout(bench: Benchmark, n: int = 3000, dataset: str = "cifar10", metric: str = "test",
                  epochs: int | None = None) -> np.ndarray:
    """Return the fixed random evaluation holdout of a space: n archs with a record, int64 [n], sorted.

    It is the first n archs with a record in `space_permutation`, so it depends only on the space
    and n (and a holdout of n archs contains every smaller one); every search excludes it, so numbers
    reported on it are on archs no search saw. When n reaches the archs with a record, it is all of them.
    """
    order = space_permutation(bench.space)
    order = order[np.isfinite(bench.accuracies(dataset, metric, epochs)[order])]
    return np.sort(order[:n]).astype(np.int64)
