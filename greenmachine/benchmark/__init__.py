"""Ground truth: benchmarks from the compact table or official files, conversion, download and samples."""

from __future__ import annotations

from pathlib import Path

from greenmachine.benchmark.base import METRICS, Benchmark, MissingRecordError, PartialBenchmarkError
from greenmachine.benchmark.official import load_official
from greenmachine.benchmark.sampling import Sample, SampleProtocol, draw_sample, fixed_holdout
from greenmachine.errors import check_choice
from greenmachine.paths import data_dir as resolve_data_dir
from greenmachine.spaces import get_space

SOURCES = ("table", "official")


def load_benchmark(space: str, source: str = "table", data_dir: str | Path | None = None,
                   allow_partial: bool = False) -> Benchmark:
    """Return the ground truth of `space`.

    Args:
        space: a registered space's name.
        source: `table` (the space's own ground truth, `SearchSpace.load_benchmark`: for NATS the compact
            table `<data folder>/<space>/accuracies_long.csv.gz`, parsed once per process) or `official`
            (official NATS-Bench files under `<data folder>/nats_official`, or the data folder itself when
            it holds the `*-simple` folder; slow for a whole space; only spaces with official files).
        data_dir: the data folder (default: greenmachine.paths.data_dir()).
        allow_partial: accept a table or official folder holding only some arch records (the others
            are NaN and never sampled); otherwise such a source raises PartialBenchmarkError.
    """
    space_obj = get_space(space)
    check_choice("benchmark source", source, SOURCES)
    if source == "table":
        return space_obj.load_benchmark(data_dir, allow_partial=allow_partial)
    root = resolve_data_dir(data_dir)
    official = root / "nats_official" if (root / "nats_official").is_dir() else root
    return load_official(space_obj.name, official, allow_partial=allow_partial)


__all__ = ["METRICS", "SOURCES", "Benchmark", "MissingRecordError", "PartialBenchmarkError", "Sample",
           "SampleProtocol", "draw_sample", "fixed_holdout", "load_benchmark"]
