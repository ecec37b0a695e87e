"""Soak: concurrent tiny searches and caches on one cache and MLflow store, with random kill -9s.

For `--seconds`, keeps `--runs` tiny searches (`greenmachine search debug=tiny`) and `--caches` cache
fills (`greenmachine cache`) running at once on one fresh cache folder and one fresh SQLite MLflow
store, kills a random one with SIGKILL (its whole process group) every `--kill-every` seconds on
average and restarts it in place (a search resumes from its checkpoint); a run that ends is
replaced by a new one. Then it lets the runs finish undisturbed and checks that

- every finished search's hall_of_fame.csv equals that of an undisturbed search (computed first, on
  its own cache and store),
- every finished search's MLflow run is FINISHED and no run is left RUNNING,
- every cache shard and manifest reads back, and every cached value equals the undisturbed one.

It prints runs, kills and losses (a crash: a run that failed without being killed; a wrong or
missing hall of fame; a run that did not finish; an MLflow run not FINISHED; a corrupt or
different cache entry). Not a test: it takes minutes and its outcome depends on timing.

    python experiments/soak.py --seconds 600 --runs 2 --caches 2 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEARCH = ["search", "debug=tiny", "workers=1", "progress=false"]
# The tiny search's probe and statistics, so cache fills write the very folders the searches read.
CACHE = ["cache", "probe.batch_size=16", "workers=1", "progress=false"]
# Cache fills take the first N archs of the fixed random order; the first 24 are the tiny search's evaluation archs.
CACHE_ARCHS = (16, 24, 32)
MAX_CRASHES = 3  # a run that fails this often without being killed is not restarted again


@dataclass
class Run:
    """One search or cache run, restarted in place after every kill or crash."""

    name: str
    args: list[str]
    kind: str  # search | cache
    folder: Path | None = None  # a search's run folder
    attempts: int = 0
    kills: int = 0
    crashes: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    killed_now: bool = False
    finished: bool = False


class Soak:
    """Starts, kills and restarts the runs; all of them share one cache and one MLflow store."""

    def __init__(self, work: Path, env: dict[str, str]):
        self.work, self.env = work, env
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start(self, run: Run) -> None:
        run.attempts += 1
        run.killed_now = False
        log = open(self.logs / f"{run.name}-{run.attempts}.log", "w")
        run.proc = subprocess.Popen([sys.executable, "-m", "greenmachine", *run.args], cwd=self.work, env=self.env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def kill(self, run: Run) -> None:
        """SIGKILL the run's process group (the command and any worker it started), if it is still going."""
        if run.proc is None or run.proc.poll() is not None:
            return
        try:
            os.killpg(run.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        run.proc.wait()
        run.kills += 1
        run.killed_now = True

    def poll(self, run: Run) -> bool:
        """Return whether the run is still going; restart it after a crash, mark it finished on success."""
        if run.proc is None or run.finished:
            return False
        rc = run.proc.poll()
        if rc is None:
            return True
        if rc == 0:
            run.finished = True
            return False
        if not run.killed_now:
            tail = (self.logs / f"{run.name}-{run.attempts}.log").read_text(errors="replace").strip().splitlines()[-3:]
            run.crashes.append(f"exit {rc}: " + " | ".join(tail))
            if len(run.crashes) >= MAX_CRASHES:  # given up: it counts as unfinished
                run.proc = None
                return False
        self.start(run)
        return True


def undisturbed(work: Path, archs: int) -> tuple[Path, Path]:
    """Run one tiny search and one cache fill alone on their own cache and store; return (run folder, cache)."""
    ref = work / "reference"
    env = {**os.environ, "GREENMACHINE_CACHE": str(ref / "cache"), "MLFLOW_TRACKING_URI": f"sqlite:///{ref / 'mlruns.db'}"}
    ref.mkdir(parents=True)
    for args in ([*SEARCH, f"hydra.run.dir={ref / 'run'}"], [*CACHE, f"archs={archs}"]):
        done = subprocess.run([sys.executable, "-m", "greenmachine", *args], cwd=ref, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(f"the undisturbed run failed: greenmachine {' '.join(args)}\n{done.stdout}\n{done.stderr}")
    return ref / "run", ref / "cache"


def read_cache(root: Path) -> tuple[dict[tuple[str, int], dict[str, np.ndarray]], list[str], int]:
    """Return (values by (pass folder, arch), problems, quarantined files) of every shard under `root`."""
    values, problems, quarantined = {}, [], 0
    for folder in sorted((root / "statistics").glob("*/*/*")):
        if not folder.is_dir():
            continue
        try:
            json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"{folder / 'manifest.json'}: {type(exc).__name__}: {exc}")
        for path in sorted(folder.iterdir()):
            if path.is_dir() or path.name == "manifest.json" or path.name.startswith("."):
                continue
            if not (path.name.startswith("part-") and path.name.endswith(".npz")):
                quarantined += 1  # renamed aside by the cache
                continue
            try:
                with np.load(path) as data:
                    shard = {k: data[k] for k in data.files}
            except Exception as exc:  # any unreadable shard is a corrupt entry
                problems.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            for i, arch in enumerate(shard["arch"]):
                row = {k: v[i] for k, v in shard.items() if k.startswith(("layer.", "scalar.", "status", "depth"))}
                values[(folder.name, int(arch))] = row
    return values, problems, quarantined


def compare_caches(soaked: Path, reference: Path) -> tuple[int, list[str]]:
    """Return (entries checked, problems): unreadable files, or values that differ from the undisturbed ones."""
    got, problems, quarantined = read_cache(soaked)
    want, ref_problems, _ = read_cache(reference)
    problems += [f"reference {p}" for p in ref_problems]
    checked = 0
    for key, row in got.items():
        if key not in want:
            continue
        checked += 1
        expected = want[key]
        for name, value in expected.items():
            if name not in row:
                problems.append(f"{key}: {name} missing")
            elif value.dtype.kind in "fc":
                a, b = np.asarray(row[name], np.float64), np.asarray(value, np.float64)
                same = a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True)
                if not same:
                    problems.append(f"{key}: {name} differs from the undisturbed value")
            elif not np.array_equal(row[name], value):
                problems.append(f"{key}: {name} = {row[name]} (undisturbed: {value})")
    if quarantined:
        print(f"  {quarantined} cache file(s) quarantined (renamed aside) by the cache")
    return checked, problems


def mlflow_problems(uri: str, folders: list[Path]) -> list[str]:
    """Return the finished searches whose MLflow run is not FINISHED, and the runs left RUNNING."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("greenmachine")
    runs = client.search_runs([experiment.experiment_id], max_results=10000) if experiment else []
    status = {r.info.run_id: r.info.status for r in runs}
    problems = [f"MLflow run {r} is left {s}" for r, s in status.items() if s == "RUNNING"]
    for folder in folders:
        record = folder / "mlflow_run.json"
        if not record.is_file():
            problems.append(f"{folder}: no mlflow_run.json")
            continue
        run_id = json.loads(record.read_text())["run_id"]
        if status.get(run_id) != "FINISHED":
            problems.append(f"{folder}: its MLflow run {run_id} is {status.get(run_id, 'missing')}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600, help="how long runs are started and killed")
    parser.add_argument("--runs", type=int, default=2, help="concurrent tiny searches")
    parser.add_argument("--caches", type=int, default=None, help="concurrent cache fills (default: --runs)")
    parser.add_argument("--kill-every", type=float, default=20, help="mean seconds between two kills")
    parser.add_argument("--seed", type=int, default=0, help="seeds which run is killed and when")
    parser.add_argument("--drain", type=float, default=1800, help="seconds the runs get to finish after --seconds")
    parser.add_argument("--work", type=Path, default=None, help="a fresh folder (default: a new temporary one, kept)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="greenmachine-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        raise SystemExit(f"--work {work} is not empty; give a fresh folder")
    caches = args.runs if args.caches is None else args.caches
    print(f"soak in {work}: {args.runs} searches and {caches} caches at once for {args.seconds:.0f} s, a kill every "
          f"{args.kill_every:.0f} s on average, seed {args.seed}", flush=True)
    start = time.monotonic()
    ref_run, ref_cache = undisturbed(work, max(CACHE_ARCHS))
    print(f"undisturbed search and cache done in {time.monotonic() - start:.0f} s", flush=True)
    uri = f"sqlite:///{work / 'mlruns.db'}"
    soak = Soak(work, {**os.environ, "GREENMACHINE_CACHE": str(work / "cache"), "MLFLOW_TRACKING_URI": uri,
                       "PYTHONUNBUFFERED": "1"})  # a killed run's log keeps what it printed
    runs: list[Run] = []

    def new_run(kind: str) -> Run:
        number = sum(r.kind == kind for r in runs) + 1
        if kind == "search":
            folder = work / "runs" / f"search-{number}"
            run = Run(f"search-{number}", [*SEARCH, f"hydra.run.dir={folder}"], kind, folder)
        else:
            run = Run(f"cache-{number}", [*CACHE, f"archs={rng.choice(CACHE_ARCHS)}"], kind)
        runs.append(run)
        soak.start(run)
        return run

    live = [new_run("search") for _ in range(args.runs)] + [new_run("cache") for _ in range(caches)]
    begin = time.monotonic()
    next_kill = begin + rng.expovariate(1 / args.kill_every)
    while time.monotonic() - begin < args.seconds:
        for i, run in enumerate(live):
            if not soak.poll(run):
                live[i] = new_run(run.kind)
        if time.monotonic() >= next_kill:
            soak.kill(rng.choice(live))
            next_kill = time.monotonic() + rng.expovariate(1 / args.kill_every)
        time.sleep(0.2)
    deadline = time.monotonic() + args.drain
    while any([soak.poll(r) for r in live]) and time.monotonic() < deadline:
        time.sleep(1)
    unfinished = [r for r in runs if not r.finished]
    for run in unfinished:
        if run.proc is not None and run.proc.poll() is None:
            os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()

    losses: list[str] = []
    for run in runs:
        losses += [f"{run.name} crashed ({c})" for c in run.crashes]
    losses += [f"{r.name} did not finish within --drain" for r in unfinished]
    reference = (ref_run / "hall_of_fame.csv").read_text()
    finished = [r for r in runs if r.kind == "search" and r.finished]
    for run in finished:
        hall = run.folder / "hall_of_fame.csv"
        if not hall.is_file():
            losses.append(f"{run.name}: no hall_of_fame.csv")
        elif hall.read_text() != reference:
            losses.append(f"{run.name}: its hall of fame differs from the undisturbed search's")
    losses += mlflow_problems(uri, [r.folder for r in finished])
    checked, cache_problems = compare_caches(work / "cache", ref_cache)
    losses += cache_problems
    kills = sum(r.kills for r in runs)
    searches = sum(r.kind == "search" for r in runs)
    print(f"runs: {len(runs)} ({searches} searches, {len(runs) - searches} caches; "
          f"{sum(r.finished for r in runs)} finished, {len(finished)} searches compared with the undisturbed one)")
    print(f"kills: {kills} (restarts {sum(r.attempts - 1 for r in runs)}); cache entries checked: {checked}")
    print(f"losses: {len(losses)}")
    for loss in losses[:40]:
        print(f"  {loss}")
    if len(losses) > 40:
        print(f"  ... and {len(losses) - 40} more")
    print(f"logs and files: {work}")
    sys.exit(1 if losses else 0)


if __name__ == "__main__":
    main()
