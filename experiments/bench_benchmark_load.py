"""Time loading the compact accuracy tables (target: TSS under 2 s), cold and from the in-process cache.

    python experiments/bench_benchmark_load.py
"""

from __future__ import annotations

import time

import numpy as np

from greenmachine.benchmark import load_benchmark
from greenmachine.benchmark.table import _load


def main() -> None:
    for space in ("nats_tss", "nats_sss"):
        _load.cache_clear()
        start = time.perf_counter()
        bench = load_benchmark(space)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load_benchmark(space)
        warm = time.perf_counter() - start
        records = sum(int(np.isfinite(v).sum()) for v in bench.values.values())
        print(f"{space}: {records} accuracy records, first load {cold:.3f} s, cached {warm * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
