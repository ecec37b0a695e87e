"""Fill the statistics cache for many archs: worker processes, a CUDA device, or a Ray cluster.

Every backend runs the same `compute_archs` on chunks of archs and hands the results back to this
process, which alone writes the cache; so values do not depend on where they were computed, and
an interrupted run keeps every finished chunk.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
import multiprocessing

import numpy as np
import torch
from tqdm.auto import tqdm

from greenmachine.data.probe import Probe
from greenmachine.energy import EnergyMeter
from greenmachine.errors import GreenmachineError
from greenmachine.spaces import SearchSpace, get_space, space_from_config
from greenmachine.statistics.cache import ArchResult, StatisticsCache, init_seed
from greenmachine.statistics.core import PASSES, StatisticsOptions
from greenmachine.statistics.engine import compute_statistics

Work = list[tuple[int, tuple[str, ...]]]  # (arch, passes still missing for it)


@dataclass(frozen=True)
class CacheJob:
    """What every chunk of a fill shares.

    Attributes:
        space, dataset: the networks.
        probe: the probe batch.
        options: pass settings.
        device: torch device string the networks run on.
        threads: torch CPU threads per worker.
        space_config: the config section of a config plug-in space, so a worker process can register
            it too (empty for built-in and entry-point spaces, which every process finds by name).
    """

    space: str
    dataset: str
    probe: Probe
    options: StatisticsOptions
    device: str = "cpu"
    threads: int = 1
    space_config: tuple[tuple[str, object], ...] = ()

    def search_space(self) -> SearchSpace:
        """Return the space of the job's networks, registering a config plug-in first if need be."""
        return space_from_config(dict(self.space_config)) if self.space_config else get_space(self.space)


@dataclass
class FillReport:
    """What a fill did: archs computed and already cached, problems by arch, wall time."""

    computed: int = 0
    cached: int = 0
    problems: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def compute_archs(job: CacheJob, work: Work) -> dict[str, list[ArchResult]]:
    """Return, per pass, the results of computing each arch's missing passes.

    An arch whose statistics are NaN or infinite is recorded with status `nonfinite:<names>`, one
    that raises with status `error:<message>`; neither stops the chunk.
    """
    torch.set_num_threads(job.threads)
    meter = EnergyMeter(job.device)
    space = job.search_space()
    out: dict[str, list[ArchResult]] = defaultdict(list)
    for arch, passes in work:
        names = [s for p in passes for s in PASSES[p].produces]
        try:
            torch.manual_seed(init_seed(job.probe.seed, arch))
            net = space.build(arch, job.dataset).to(job.device)
            stats = compute_statistics(net, job.probe, names, job.options, meter)
        except Exception as exc:  # recorded per arch; the run goes on
            message = f"error:{type(exc).__name__}: {exc}"[:500]
            for p in passes:
                out[p].append(ArchResult(arch, status=message))
            continue
        for p in passes:
            produced = PASSES[p].produces
            layer = {s: stats.layer[s] for s in produced if s in stats.layer}
            scalar = {s: stats.scalar[s] for s in produced if s in stats.scalar}
            bad = [s for s, v in {**layer, **scalar}.items() if not np.all(np.isfinite(v))]
            out[p].append(ArchResult(arch, layer, scalar, stats.seconds[p], stats.joules.get(p, float("nan")),
                                     "nonfinite:" + ",".join(bad) if bad else "ok"))
    return dict(out)


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _local(job: CacheJob, chunks: list[Work], workers: int) -> Iterator[tuple[Work, dict[str, list[ArchResult]]]]:
    if workers <= 1:
        for chunk in chunks:
            yield chunk, compute_archs(job, chunk)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job.threads,)) as pool:
        pending = {pool.submit(compute_archs, job, chunk): chunk for chunk in chunks}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


def _ray(job: CacheJob, chunks: list[Work], address: str | None) -> Iterator[tuple[Work, dict[str, list[ArchResult]]]]:
    try:
        import ray
    except ImportError as exc:
        raise GreenmachineError("backend=ray needs the optional extra: pip install 'greenmachine[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=job.threads, num_gpus=1 if job.device.startswith("cuda") else 0)(compute_archs)
    refs = {remote.remote(job, chunk): chunk for chunk in chunks}
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1)
        for ref in done:
            yield refs.pop(ref), ray.get(ref)


BACKENDS = ("local", "ray")


def fill_cache(cache: StatisticsCache, archs: list[int], passes: list[str], job: CacheJob, workers: int = 1,
               chunk_size: int = 4, backend: str = "local", ray_address: str | None = None,
               progress: bool = True) -> FillReport:
    """Compute and cache `passes` for every arch in `archs` that lacks them; return what was done.

    Args:
        cache: where results go (its space, dataset, probe and options must match `job`'s).
        archs: benchmark indices.
        passes: pass names (see greenmachine.statistics.PASSES).
        job: networks, probe, options, device and threads per worker.
        workers: parallel worker processes (local backend).
        chunk_size: archs per unit of work and per cache shard.
        backend: `local` (this process or worker processes) or `ray`.
        ray_address: the Ray cluster to join (None starts a local one).
        progress: show a progress bar with ETA.
    """
    if backend not in BACKENDS:
        raise GreenmachineError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    start = time.perf_counter()
    done = {p: cache.done(p) for p in passes}
    work: Work = []
    for arch in archs:
        missing = tuple(p for p in passes if arch not in done[p])
        if missing:
            work.append((int(arch), missing))
    report = FillReport(cached=len(archs) - len(work))
    chunks = [work[i : i + chunk_size] for i in range(0, len(work), chunk_size)]
    runs = _local(job, chunks, workers) if backend == "local" else _ray(job, chunks, ray_address)
    with tqdm(total=len(work), desc=f"statistics {cache.space}/{cache.dataset}", unit="arch", disable=not (progress and work),
              dynamic_ncols=True) as bar:
        for chunk, results in runs:
            for pass_name, rows in results.items():
                cache.write(pass_name, rows)
                for r in rows:
                    if r.status != "ok":
                        report.problems[r.arch] = f"{pass_name}: {r.status}"
            report.computed += len(chunk)
            bar.update(len(chunk))
    if report.computed:
        for pass_name in passes:  # one file per pass keeps later loads fast
            cache.compact(pass_name)
    report.seconds = time.perf_counter() - start
    return report


def default_workers(device: str) -> int:
    """Return one worker per CPU core for CPU work, one for a CUDA device."""
    return 1 if device.startswith("cuda") else usable_cores()


def usable_cores() -> int:
    """Return the CPU cores this process may run on (its affinity mask, e.g. under `taskset`), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity masks
        return max(1, os.cpu_count() or 1)
