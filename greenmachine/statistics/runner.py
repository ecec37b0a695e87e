"""Fill the statistics cache for many archs: worker processes, a CUDA device, or a Ray cluster.

Every backend runs the same `compute_archs` on chunks of archs and hands the results back to this
process, which alone writes its results to the cache; so values do not depend on where they were
computed (across CPU thread counts, so across worker counts, they agree to 1e-9 relative: measured
equal bit for bit in the main pass, whose reductions run on one thread, see main_pass.THREADS_RTOL,
and within 2e-12 in the others), and an interrupted run keeps every finished chunk. Several fills
may share one cache at once (two searches started together): each claims an arch's pass before
computing it, skips what another process has claimed and, once its own work is done, waits for
those results and reads them, computing only what a process that died left undone. No arch is
computed twice.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
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
from greenmachine.locks import Claim
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
    """What a fill did: archs computed, archs cached, problems by arch, wall time.

    `computed` counts the archs this process computed, `cached` the others (already cached, or
    computed meanwhile by another process); `problems` covers the archs computed here.
    """

    computed: int = 0
    cached: int = 0
    problems: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def compute_archs(job: CacheJob, work: Work) -> dict[str, list[ArchResult]]:
    """Return, per pass, the results of computing each arch's missing passes.

    An arch whose statistics are NaN or infinite is recorded with status `nonfinite:<names>`, one
    that raises with status `error:<message>`; neither stops the chunk.
    """
    threads = torch.get_num_threads()
    device = torch.device(job.device)
    torch.set_num_threads(job.threads)
    try:  # in-process runs leave the caller's thread count and random generators as they were
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            return _compute(job, work)
    finally:
        torch.set_num_threads(threads)


def _compute(job: CacheJob, work: Work) -> dict[str, list[ArchResult]]:
    """Return compute_archs's results, on the threads already set."""
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
                                     "nonfinite:" + ",".join(bad) if bad else "ok", stats.energy_source))
    return dict(out)


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _local(job: CacheJob, chunks: Iterable[Work], workers: int) -> Iterator[tuple[Work, dict[str, list[ArchResult]]]]:
    """Yield each chunk with its results, keeping `workers` chunks in flight; chunks are drawn only when a worker is free.

    No worker process starts unless there is a chunk to compute.
    """
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        return
    if workers <= 1:
        yield first, compute_archs(job, first)
        for chunk in chunks:
            yield chunk, compute_archs(job, chunk)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job.threads,)) as pool:
        pending = {pool.submit(compute_archs, job, first): first}
        try:
            for chunk in chunks:
                pending[pool.submit(compute_archs, job, chunk)] = chunk
                if len(pending) < workers:
                    continue
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


def _ray(job: CacheJob, chunks: Iterable[Work], address: str | None) -> Iterator[tuple[Work, dict[str, list[ArchResult]]]]:
    """Yield each chunk with its results, keeping as many chunks in flight as the cluster runs at once."""
    try:
        import ray
    except ImportError as exc:
        raise GreenmachineError("backend=ray needs the optional extra: pip install 'greenmachine[ray]'") from exc
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None:
        return
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=job.threads, num_gpus=1 if job.device.startswith("cuda") else 0)(compute_archs)
    resources = ray.cluster_resources()
    slots = int(resources.get("GPU", 0)) if job.device.startswith("cuda") else int(resources.get("CPU", 1)) // job.threads
    slots = max(1, slots)
    refs = {}
    chunk = first
    while chunk is not None:  # the next chunk is drawn (claimed) once a slot is free
        refs[remote.remote(job, chunk)] = chunk
        if len(refs) >= slots:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                yield refs.pop(ref), ray.get(ref)
        chunk = next(chunks, None)
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1)
        for ref in done:
            yield refs.pop(ref), ray.get(ref)


BACKENDS = ("local", "ray")


class _Claims:
    """The chunks of work this process claims, in order, and the (arch, pass) units others held when it came to them.

    A unit is claimed (Claim.take) before it is computed and released once its shard is written; a
    unit found cached once its claim is taken (another process finished it meanwhile) is released
    and dropped.
    """

    def __init__(self, cache: StatisticsCache):
        self.cache = cache
        self.held: dict[tuple[int, str], Claim] = {}
        self.skipped: list[tuple[int, str]] = []

    def chunks(self, work: Work, chunk_size: int) -> Iterator[Work]:
        """Yield chunks of `work` restricted to the units this process now holds, each claimed just before it is yielded."""
        for i in range(0, len(work), chunk_size):
            claimed: Work = []
            for arch, passes in work[i:i + chunk_size]:
                mine = []
                for p in passes:
                    claim = self.cache.claim(p, arch)
                    if claim is None:
                        self.skipped.append((arch, p))
                    else:
                        self.held[(arch, p)] = claim
                        mine.append(p)
                if mine:
                    claimed.append((arch, tuple(mine)))
            if not claimed:
                continue
            # a unit whose claim was free may have been finished by a process that released it since
            done = {p: self.cache.done(p) for p in {p for _, ps in claimed for p in ps}}
            chunk: Work = []
            for arch, passes in claimed:
                for p in passes:
                    if arch in done[p]:
                        self.held.pop((arch, p)).release()
                todo = tuple(p for p in passes if arch not in done[p])
                if todo:
                    chunk.append((arch, todo))
            if chunk:
                yield chunk

    def release(self, chunk: Work) -> None:
        """Release the claims of a chunk whose results are written."""
        for arch, passes in chunk:
            for p in passes:
                self.held.pop((arch, p)).release()

    def release_all(self) -> None:
        """Release every claim still held (the fill stopped early)."""
        for claim in self.held.values():
            claim.release()
        self.held.clear()

    def wait_for_others(self) -> Work:
        """Return, as work, the skipped units not cached yet, after waiting until another process frees one of them.

        Called holding no claim, so two processes waiting for each other cannot deadlock; a unit
        whose process died is free at once and comes back as work.
        """
        skipped, self.skipped = self.skipped, []
        if not skipped:
            return []
        done = {p: self.cache.done(p) for p in {p for _, p in skipped}}
        waiting = [(a, p) for a, p in skipped if a not in done[p]]
        if waiting:
            arch, p = waiting[0]
            Claim.wait_free(self.cache.claim_path(p, arch))
            done = {p: self.cache.done(p) for p in {p for _, p in waiting}}
        left: dict[int, list[str]] = defaultdict(list)
        for a, p in skipped:
            if a not in done[p]:
                left[a].append(p)
        return [(a, tuple(ps)) for a, ps in left.items()]


def fill_cache(cache: StatisticsCache, archs: list[int], passes: list[str], job: CacheJob, workers: int = 1,
               chunk_size: int = 4, backend: str = "local", ray_address: str | None = None,
               progress: bool = True) -> FillReport:
    """Compute and cache `passes` for every arch in `archs` that lacks them; return what was done.

    Other processes may fill the same cache meanwhile: what they have claimed is left to them and
    read once they are done (see the module docstring).

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
    unique = list(dict.fromkeys(int(a) for a in archs))
    done = {p: cache.done(p) for p in passes}
    work: Work = [(a, tuple(p for p in passes if a not in done[p])) for a in unique]
    work = [(a, missing) for a, missing in work if missing]
    todo = len(work)
    computed: set[int] = set()  # archs with a pass computed by this process
    report = FillReport()
    claims = _Claims(cache)
    with tqdm(total=todo, desc=f"statistics passes {cache.space}/{cache.dataset} (archs not cached)", unit="arch",
              disable=not (progress and work), dynamic_ncols=True) as bar:
        try:
            while work:
                chunks = claims.chunks(work, chunk_size)
                runs = _local(job, chunks, workers) if backend == "local" else _ray(job, chunks, ray_address)
                for chunk, results in runs:
                    for pass_name, rows in results.items():
                        cache.write(pass_name, rows)
                        for r in rows:
                            if r.status != "ok":
                                report.problems[r.arch] = f"{pass_name}: {r.status}"
                    claims.release(chunk)
                    computed.update(a for a, _ in chunk)
                    bar.update(len(chunk))
                work = claims.wait_for_others()
                bar.n = todo - len(work)  # the rest is cached, here or by another process
                bar.refresh()
        finally:
            claims.release_all()
    report.computed, report.cached = len(computed), len(unique) - len(computed)
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
