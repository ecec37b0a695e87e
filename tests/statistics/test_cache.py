"""The statistics cache: content keys, atomic shards, resume after a kill, failures recorded, Ray = local."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import greenmachine as gm
from greenmachine.statistics import StatisticsOptions, default_statistics
from greenmachine.statistics.cache import StatisticsCache
from greenmachine.statistics.engine import passes_for
from greenmachine.statistics.runner import CacheJob, compute_archs, fill_cache

ARCHS = [3, 11, 284, 7, 42, 1000]
CHEAP = ["structure", "meco", "synflow"]


def small_probe(seed: int = 0) -> gm.Probe:
    gen = torch.Generator().manual_seed(seed)
    return gm.Probe(torch.randn(4, 3, 32, 32, generator=gen), torch.arange(4) % 10, "cifar10", "noise", seed)


def make(tmp_path, probe=None, options=None):
    probe = probe or small_probe()
    options = options or StatisticsOptions()
    return StatisticsCache(tmp_path, "nats_tss", "cifar10", probe, options), CacheJob("nats_tss", "cifar10", probe, options)


def test_key_changes_with_probe_options_and_versions(tmp_path):
    cache, _ = make(tmp_path)
    assert cache.pass_dir("main") == make(tmp_path)[0].pass_dir("main")
    assert cache.pass_dir("main") != make(tmp_path, probe=small_probe(1))[0].pass_dir("main")
    assert cache.pass_dir("main") != make(tmp_path, options=StatisticsOptions(halves=4))[0].pass_dir("main")
    # an option a pass does not read leaves its key alone
    assert cache.pass_dir("main") == make(tmp_path, options=StatisticsOptions(zen_batch=32))[0].pass_dir("main")
    content = cache.key_content("main")
    assert content["statistics"]["snip"] == gm.statistics.STATISTICS["snip"].version
    assert (cache.pass_dir("main") / "manifest.json").is_file()


def test_fill_is_resumable_and_loads_in_request_order(tmp_path):
    cache, job = make(tmp_path)
    first = fill_cache(cache, ARCHS[:3], CHEAP, job, progress=False)
    again = fill_cache(cache, ARCHS, CHEAP, job, progress=False)
    assert (first.computed, again.cached, again.computed) == (3, 3, 3)
    names = [s for p in CHEAP for s in gm.statistics.PASSES[p].produces]
    table, status = cache.load(names, np.array(ARCHS[::-1]))
    assert list(table.arch_indices) == ARCHS[::-1]
    assert set(status.values()) == {"ok"}
    assert table.mask.sum(1).tolist() == table.scalar["depth"].int().tolist()


def test_cached_values_equal_a_direct_computation(tmp_path):
    cache, job = make(tmp_path)
    fill_cache(cache, [11], ["main", "structure"], job, progress=False)
    table, _ = cache.load(["snip", "zico", "corr_min", "params"], np.array([11]))
    torch.manual_seed(job.probe.seed * 1_000_003 + 11)
    direct = gm.compute_statistics(gm.build_network("nats_tss", 11, "cifar10"), job.probe, ["snip", "zico", "corr_min", "params"])
    assert float(table.scalar["snip"][0]) == pytest.approx(direct.scalar["snip"], rel=1e-6)
    assert float(table.scalar["zico"][0]) == pytest.approx(direct.scalar["zico"], rel=1e-6)
    np.testing.assert_allclose(table.layer["corr_min"][0, : len(direct.layer["corr_min"])].numpy(), direct.layer["corr_min"],
                               rtol=1e-5, atol=1e-6)


def test_missing_archs_are_named(tmp_path):
    cache, _ = make(tmp_path)
    with pytest.raises(gm.errors.GreenmachineError, match=r"1 of 1 archs have no cached statistics.*greenmachine cache"):
        cache.load(["snip"], np.array([5]))


def test_a_failing_network_is_recorded_and_the_chunk_goes_on(tmp_path, monkeypatch):
    space = gm.spaces.get_space("nats_tss")
    real = space.build

    def flaky(arch, dataset):
        if arch == 11:
            raise RuntimeError("out of memory (simulated)")
        return real(arch, dataset)

    monkeypatch.setattr(space, "build", flaky)
    _, job = make(tmp_path)
    results = compute_archs(job, [(3, ("structure",)), (11, ("structure",)), (284, ("structure",))])
    status = {r.arch: r.status for r in results["structure"]}
    assert status[3] == status[284] == "ok"
    assert status[11].startswith("error:RuntimeError: out of memory")


def test_compute_archs_leaves_the_callers_torch_generator_and_threads_as_they_were(tmp_path):
    _, job = make(tmp_path)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    threads = torch.get_num_threads()
    compute_archs(job, [(3, ("structure",))])  # seeds each network's initialisation
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads


def test_nonfinite_statistics_are_flagged(tmp_path):
    cache, job = make(tmp_path)
    # arch 3 has a cell with no path through convolutions: AZ-NAS trainability is -inf by definition
    report = fill_cache(cache, [3], ["az_nas"], job, progress=False)
    assert report.problems[3] == "az_nas: nonfinite:az_trainability"
    _, status = cache.load(["az_trainability"], np.array([3]))
    assert status[3] == "az_nas:nonfinite:az_trainability"


def test_entry_size_is_at_most_16_kb_per_arch(tmp_path):
    cache, job = make(tmp_path)
    archs = [6111, 11, 284, 3]  # 6111 is among the deepest TSS networks
    fill_cache(cache, archs, passes_for(default_statistics()), job, chunk_size=4, progress=False)
    total = sum(p.stat().st_size for d in (tmp_path / "statistics").rglob("part-*.npz") for p in [d])
    assert total / len(archs) <= 16 * 1024


def test_stray_temporary_files_are_ignored_and_compaction_keeps_values(tmp_path):
    cache, job = make(tmp_path)
    fill_cache(cache, ARCHS[:2], ["synflow"], job, chunk_size=1, progress=False)
    folder = cache.pass_dir("synflow")
    (folder / ".part-dead.npz.123.tmp").write_bytes(b"half a file")
    before = cache.records("synflow")
    cache.compact("synflow")
    assert len(list(folder.glob("part-*.npz"))) == 1
    after = cache.records("synflow")
    assert {a: r.scalar for a, r in before.items()} == {a: r.scalar for a, r in after.items()}


def test_a_reader_keeps_every_arch_while_another_process_compacts(tmp_path, monkeypatch):
    """A shard removed between listing and reading (another reader set it aside) makes the reader list again."""
    import greenmachine.statistics.cache as cache_module

    cache, job = make(tmp_path)
    fill_cache(cache, ARCHS[:3], ["synflow"], job, chunk_size=1, progress=False)
    read = cache_module._read_shards
    calls = []

    def compacted_mid_read(folder, *args):
        calls.append(folder)
        if len(calls) == 1:  # the listing is stale: the writer merges and removes the old shards now
            StatisticsCache(tmp_path, "nats_tss", "cifar10", small_probe(), StatisticsOptions()).compact("synflow")
            raise FileNotFoundError(folder / "part-removed.npz")
        return read(folder, *args)

    monkeypatch.setattr(cache_module, "_read_shards", compacted_mid_read)
    assert cache.done("synflow") == set(ARCHS[:3])
    assert len(list(cache.pass_dir("synflow").glob("part-*.npz"))) == 1  # the compaction did happen


KILLED_RUN = textwrap.dedent("""
    import sys, torch
    import greenmachine as gm
    from greenmachine.statistics import StatisticsOptions
    from greenmachine.statistics.cache import StatisticsCache
    from greenmachine.statistics.runner import CacheJob, fill_cache
    if __name__ == "__main__":
        gen = torch.Generator().manual_seed(0)
        probe = gm.Probe(torch.randn(4, 3, 32, 32, generator=gen), torch.arange(4) % 10, "cifar10", "noise", 0)
        cache = StatisticsCache(sys.argv[1], "nats_tss", "cifar10", probe, StatisticsOptions())
        job = CacheJob("nats_tss", "cifar10", probe, StatisticsOptions())
        fill_cache(cache, [int(a) for a in sys.argv[2:]], ["structure", "meco", "synflow", "main"], job,
                   chunk_size=1, progress=False)
""")


@pytest.mark.slow
def test_a_run_killed_mid_way_resumes_to_the_same_values(tmp_path):
    archs = [int(a) for a in np.random.default_rng(0).choice(15625, 12, replace=False)]
    script = tmp_path / "fill.py"
    script.write_text(KILLED_RUN)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(killed), *map(str, archs)])
    deadline = time.time() + 120
    while time.time() < deadline and len(list(killed.rglob("main-*/part-*.npz"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(list(killed.rglob("main-*/part-*.npz")))
    assert 2 <= partial < len(archs)

    cache, job = make(killed)
    report = fill_cache(cache, archs, ["structure", "meco", "synflow", "main"], job, progress=False)
    assert report.computed == len(archs) - report.cached and report.cached >= 2
    clean, _ = make(tmp_path / "clean")
    fill_cache(clean, archs, ["structure", "meco", "synflow", "main"], job, progress=False)
    names = ["snip", "nwot", "meco", "synflow", "corr_entropy", "params"]
    resumed_table, _ = cache.load(names, np.array(archs))
    clean_table, _ = clean.load(names, np.array(archs))
    for name in ("snip", "nwot", "meco", "synflow", "params"):
        torch.testing.assert_close(resumed_table.scalar[name], clean_table.scalar[name])
    torch.testing.assert_close(resumed_table.layer["corr_entropy"], clean_table.layer["corr_entropy"])


@pytest.mark.slow
@pytest.mark.ray
def test_ray_backend_gives_the_same_values_as_local(tmp_path):
    ray = pytest.importorskip("ray")
    local, job = make(tmp_path / "local")
    remote, _ = make(tmp_path / "ray")
    fill_cache(local, ARCHS[:3], CHEAP, job, progress=False)
    try:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
        fill_cache(remote, ARCHS[:3], CHEAP, job, backend="ray", progress=False)
    finally:
        ray.shutdown()
    names = ["meco", "synflow", "params", "meco_layer"]
    a, _ = local.load(names, np.array(ARCHS[:3]))
    b, _ = remote.load(names, np.array(ARCHS[:3]))
    for name in ("meco", "synflow", "params"):
        torch.testing.assert_close(a.scalar[name], b.scalar[name], rtol=0, atol=0)
    torch.testing.assert_close(a.layer["meco_layer"], b.layer["meco_layer"], rtol=0, atol=0)


# --- several processes on one cache (issue 17, item 1) and damaged files (item 3) ---------------

def _count_computations(monkeypatch) -> list[int]:
    """Record every arch that runner.compute_archs is asked for (in any thread).

    Computations run one at a time: threads share torch's global seed, which processes do not.
    """
    import threading

    import greenmachine.statistics.runner as runner

    computed: list[int] = []
    real = runner.compute_archs
    one_at_a_time = threading.Lock()

    def counting(job, work):
        computed.extend(arch for arch, _ in work)
        with one_at_a_time:
            return real(job, work)

    monkeypatch.setattr(runner, "compute_archs", counting)
    return computed


def test_two_fills_at_once_share_the_work_and_compute_no_arch_twice(tmp_path, monkeypatch):
    """Two fills of one fresh cache started together (as two searches would): each arch is computed once, both end."""
    import threading

    computed = _count_computations(monkeypatch)
    archs = [3, 11, 284, 7, 42, 1000, 5, 9]
    start = threading.Barrier(2)
    reports, errors = [], []

    def fill():
        cache, job = make(tmp_path)  # one cache object per "process": nothing shared but the folder
        start.wait()
        try:
            reports.append(fill_cache(cache, archs, ["structure", "synflow"], job, chunk_size=1, progress=False))
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=fill) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sorted(computed) == sorted(archs)  # no arch computed twice
    assert sum(r.computed for r in reports) == len(archs) and all(r.computed + r.cached == len(archs) for r in reports)
    cache, job = make(tmp_path)
    clean, _ = make(tmp_path / "clean")
    fill_cache(clean, archs, ["structure", "synflow"], job, progress=False)
    a, _ = cache.load(["params", "synflow", "layer_params"], np.array(archs))
    b, _ = clean.load(["params", "synflow", "layer_params"], np.array(archs))
    for name in ("params", "synflow"):
        torch.testing.assert_close(a.scalar[name], b.scalar[name], rtol=0, atol=0)
    torch.testing.assert_close(a.layer["layer_params"], b.layer["layer_params"], rtol=0, atol=0)
    assert not list((tmp_path / "statistics").rglob("claims/*.lock"))  # finished work leaves no claim behind


def test_a_fill_leaves_an_arch_another_process_claimed_to_it_and_reads_its_result(tmp_path, monkeypatch):
    import threading

    computed = _count_computations(monkeypatch)
    cache, job = make(tmp_path)
    other = cache.claim("structure", 11)  # another process is computing arch 11
    assert other is not None and cache.claim("structure", 11) is None
    result = []
    filler = threading.Thread(target=lambda: result.append(
        fill_cache(make(tmp_path)[0], [3, 11, 284], ["structure"], job, chunk_size=1, progress=False)))
    filler.start()
    deadline = time.time() + 120
    while time.time() < deadline and cache.done("structure") != {3, 284}:
        time.sleep(0.05)
    assert cache.done("structure") == {3, 284} and filler.is_alive()  # its own work done, it waits for 11
    rows = compute_archs(job, [(11, ("structure",))])["structure"]
    cache.write("structure", rows)  # the other process finishes
    other.release()
    filler.join(timeout=120)
    assert not filler.is_alive()
    assert sorted(computed) == [3, 284] and (result[0].computed, result[0].cached) == (2, 1)
    assert cache.records("structure")[11].scalar == rows[0].scalar


def test_a_claim_left_by_a_killed_process_is_computed_by_the_next_fill(tmp_path, monkeypatch):
    computed = _count_computations(monkeypatch)
    cache, job = make(tmp_path)
    path = cache.claim_path("structure", 11)
    code = ("import os, signal, sys; from greenmachine.locks import Claim; "
            "claim = Claim.take(sys.argv[1]); os.kill(os.getpid(), signal.SIGKILL)")
    died = subprocess.run([sys.executable, "-c", code, str(path)], timeout=120)
    assert died.returncode == -signal.SIGKILL and path.exists()  # its claim file stays, its lock is gone
    report = fill_cache(cache, [3, 11], ["structure"], job, chunk_size=1, progress=False)
    assert sorted(computed) == [3, 11] and report.computed == 2 and not path.exists()


def _two_shards(tmp_path):
    """Return a cache whose synflow folder holds two shards, of ARCHS[:2] and ARCHS[2:4], their paths and results."""
    cache, job = make(tmp_path)
    rows = compute_archs(job, [(a, ("synflow",)) for a in ARCHS[:4]])["synflow"]
    return cache, job, [cache.write("synflow", rows[:2]), cache.write("synflow", rows[2:])], rows


def test_compaction_tolerates_a_shard_that_vanishes_under_it(tmp_path, monkeypatch):
    cache, job, shards, _ = _two_shards(tmp_path)
    first, second = sorted(shards)
    real_load = np.load

    def load_and_remove_the_other(path, *args, **kwargs):  # another process removes a shard meanwhile
        if str(path) == str(first) and second.exists():
            second.unlink()
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(np, "load", load_and_remove_the_other)
    cache.compact("synflow")
    monkeypatch.undo()
    assert len(list(cache.pass_dir("synflow").glob("part-*.npz"))) == 1
    assert cache.done("synflow") in ({*ARCHS[:2]}, {*ARCHS[2:4]})  # what vanished is computed again by a fill
    fill_cache(cache, ARCHS[:4], ["synflow"], job, progress=False)
    assert cache.done("synflow") == set(ARCHS[:4])


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_corrupt_shard_is_set_aside_with_a_warning_and_its_archs_computed_again(tmp_path, damage, monkeypatch):
    from greenmachine.errors import CorruptFileWarning

    cache, job, (_, damaged), rows = _two_shards(tmp_path)
    data = damaged.read_bytes()
    damaged.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    computed = _count_computations(monkeypatch)
    fresh, _ = make(tmp_path)  # a later command
    with pytest.warns(CorruptFileWarning, match=rf"{damaged.name} is corrupt .*moved aside .*computed again"):
        report = fill_cache(fresh, ARCHS[:4], ["synflow"], job, progress=False)
    assert sorted(computed) == sorted(ARCHS[2:4]) and (report.computed, report.cached) == (2, 2)
    assert damaged.with_name(damaged.name + ".corrupt").is_file()  # kept for inspection, never read again
    assert {a: r.scalar for a, r in fresh.records("synflow").items()} == {r.arch: r.scalar for r in rows}


@pytest.mark.parametrize("damage", ["empty", "truncated", "other key"])
def test_a_corrupt_manifest_is_written_again_with_a_warning(tmp_path, damage):
    from greenmachine.errors import CorruptFileWarning

    cache, job = make(tmp_path)
    fill_cache(cache, ARCHS[:2], ["synflow"], job, progress=False)
    manifest = cache.pass_dir("synflow") / "manifest.json"
    good = manifest.read_text()
    manifest.write_text({"empty": "", "truncated": good[: len(good) // 2], "other key": '{"pass": "main"}'}[damage])
    fresh, _ = make(tmp_path)
    with pytest.warns(CorruptFileWarning, match=rf"{manifest} is corrupt .*written again"):
        table, _ = fresh.load(["synflow"], np.array(ARCHS[:2]))
    assert manifest.read_text() == good and table.scalar["synflow"].isfinite().all()
