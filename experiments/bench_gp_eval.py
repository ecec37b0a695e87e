"""Measure GP fitness evaluations beside plain DEAP: the same trees on the same table, in one run.

Usage: python experiments/bench_gp_eval.py [--archs 1000] [--layers 64] [--programs 1000]
       [--population 1000] [--generations 10] [--repeats 3] [--device cpu] [--threads 1] [--profile]

Builds a synthetic statistics table (random depths, padded layers) and times, on it:

1. distinct random trees of the sizes a search produces, each one's fitness (run on the whole table,
   Kendall tau against a target) with greenmachine's `Fitness`, then the same trees again (all
   answered by the memo), then the stages of a unique evaluation (intern, run, rank) separately;
2. the same trees the way a user of plain DEAP evaluates them: `gp.compile` to a Python function of
   numpy arrays (archs x layers, float32 as the table stores them or `--plain-dtype float64`, the
   same primitives written in numpy), `scipy.stats.kendalltau` of its scores; its stages, the ratio,
   and how far its taus agree with ours (rounding, and overflow that plain numpy turns into inf where
   ours saturates);
3. a real search's populations (`--population` x `--generations`, DEAP's usual loop: every individual
   without a valid fitness is evaluated each generation): seconds per generation, ours (with its
   memo) and plain DEAP's.

Times are CPU seconds of this thread (`time.thread_time`: what the work takes on an idle core, even
on a shared machine), the least of `--repeats` runs; wall seconds beside them. `--profile` adds where
our unique evaluations spend it (each primitive, and the rest). Benchmarks measure; tests assert.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import scipy.special
import scipy.stats
import torch
from deap import gp

from greenmachine.gp.config import GPConfig
from greenmachine.gp.evaluate import Evaluator, bind
from greenmachine.gp.evolve import evolve
from greenmachine.gp.fitness import FITNESSES, Fitness, Task
from greenmachine.gp import primitives
from greenmachine.gp.primitives import EPS, PRIMITIVES, layer_sum
from greenmachine.gp.pset import build_pset, deap_name, generate, parse_tree
from greenmachine.metrics import KendallTau
from greenmachine.statistics.table import StatisticsTable


class Clock:
    """CPU seconds of this thread and wall seconds since construction."""

    def __init__(self):
        self.cpu, self.wall = time.thread_time(), time.perf_counter()

    def read(self) -> tuple[float, float]:
        """Return (CPU seconds, wall seconds) elapsed."""
        return time.thread_time() - self.cpu, time.perf_counter() - self.wall


def synthetic_table(archs: int, layers: int, seed: int) -> StatisticsTable:
    """Return a table of `archs` archs with depths in [layers/3, layers], 15 per-layer and 10 scalar statistics."""
    rng = np.random.default_rng(seed)
    depths = rng.integers(layers // 3, layers + 1, size=archs)
    mask = torch.as_tensor(np.arange(layers)[None, :] < depths[:, None])
    layer = {f"layer_stat{i}": torch.as_tensor(rng.lognormal(size=(archs, layers)).astype(np.float32)) * mask
             for i in range(15)}
    scalar = {f"net_stat{i}": torch.as_tensor(rng.lognormal(size=archs).astype(np.float32)) for i in range(10)}
    return StatisticsTable(np.arange(archs), layer, mask, scalar)


def structured_target(table: StatisticsTable, seed: int) -> np.ndarray:
    """Return accuracies that a formula of two statistics explains in part, so a search has something to find."""
    mask = table.mask.numpy()
    mean = (table.layer["layer_stat0"].numpy() * mask).sum(1) / np.maximum(mask.sum(1), 1)
    noise = np.random.default_rng(seed).normal(size=len(table))
    return np.log(mean) + 0.5 * np.log(table.scalar["net_stat1"].numpy()) + 0.5 * noise


def random_trees(pset: gp.PrimitiveSetTyped, count: int, smallest: int, largest: int) -> list[gp.PrimitiveTree]:
    """Return `count` distinct random trees of `smallest` to `largest` nodes."""
    trees: dict[str, gp.PrimitiveTree] = {}
    while len(trees) < count:
        tree = gp.PrimitiveTree(generate(pset, 2, 7))
        if smallest <= len(tree) <= largest:
            trees.setdefault(str(tree), tree)
    return list(trees.values())


class PlainDeap:
    """What a user of plain DEAP writes: the primitives in numpy, `gp.compile`, `scipy.stats.kendalltau`.

    Per-layer values are [N, L] (archs x layers, as the table stores them) with the mask, per-network
    values [N, 1] so they broadcast over layers; reductions ignore padded layers.

    Args:
        table: the statistics.
        target: the accuracies, float [N].
        pset: greenmachine's primitive set of the trees to evaluate (names and argument order).
        dtype: the arrays' type: float32 as the table stores them, or float64 as many users convert.
    """

    def __init__(self, table: StatisticsTable, target: np.ndarray, pset: gp.PrimitiveSetTyped, dtype: str):
        present = table.mask.numpy()
        count = np.maximum(present.sum(1, keepdims=True), 1).astype(dtype)
        depth_weight = (np.cumsum(present, 1) * present / count).astype(dtype)
        last = np.maximum(present.sum(1) - 1, 0)[:, None]

        def centred(x):
            c = (x - (x * present).sum(1, keepdims=True) / count) * present
            return c, np.sqrt((c * c).sum(1, keepdims=True) / count)

        functions: dict[str, Callable[..., np.ndarray]] = {
            "add": np.add, "sub": np.subtract, "mul": np.multiply,
            "safe_div": lambda a, b: a / (b + np.copysign(EPS, b)),
            "neg": np.negative, "abs": np.abs, "square": np.square,
            "safe_sqrt": lambda x: np.sqrt(np.abs(x)),
            "safe_log": lambda x: np.log(np.abs(x) + EPS),
            "safe_exp": np.exp,
            "sigmoid": scipy.special.expit,
            "normalise": lambda x: (lambda c, s: c / (s + EPS))(*centred(x)),
            "sum_layers": lambda x: (x * present).sum(1, keepdims=True),
            "mean_layers": lambda x: (x * present).sum(1, keepdims=True) / count,
            "min_layers": lambda x: np.where(present, x, np.inf).min(1, keepdims=True),
            "max_layers": lambda x: np.where(present, x, -np.inf).max(1, keepdims=True),
            "std_layers": lambda x: centred(x)[1],
            "depth_weighted_sum": lambda x: (x * depth_weight).sum(1, keepdims=True),
            "first_layer": lambda x: x[:, :1],
            "last_layer": lambda x: np.take_along_axis(x, last, 1),
        }
        self.pset = gp.PrimitiveSetTyped("plain", pset.ins, pset.ret)
        self.pset.renameArguments(**{f"ARG{i}": name for i, name in enumerate(pset.arguments)})
        for name, definition in PRIMITIVES.items():
            for signature in definition.signatures:
                self.pset.addPrimitive(functions[name], list(signature[0]), signature[1],
                                       name=deap_name(definition, signature))
        columns = [table.layer[n] if n in table.layer else table.scalar[n][:, None] for n in pset.arguments]
        self.arguments = [column.numpy().astype(dtype) for column in columns]
        self.target = target
        self.size = len(table)

    def compile(self, tree: gp.PrimitiveTree) -> Callable[..., np.ndarray]:
        """Return the tree as a Python function of the statistics (DEAP's `gp.compile`)."""
        return gp.compile(tree, self.pset)

    def run(self, function: Callable[..., np.ndarray]) -> np.ndarray:
        """Return a compiled tree's scores, float [N]."""
        with np.errstate(all="ignore"):
            return np.broadcast_to(function(*self.arguments), (self.size, 1)).reshape(-1)

    def rank(self, scores: np.ndarray) -> float:
        """Return Kendall tau of the scores, -inf where they are constant or not all finite."""
        if not np.isfinite(scores).all() or scores.max() == scores.min():
            return -math.inf
        return scipy.stats.kendalltau(scores, self.target).statistic

    def __call__(self, trees: Sequence[gp.PrimitiveTree]) -> list[float]:
        """Return the fitness of each tree (DEAP's loop: every tree compiled, run and ranked)."""
        return [self.rank(self.run(self.compile(tree))) for tree in trees]


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, float, object]:
    """Return (CPU seconds, wall seconds, result) of the run with the least CPU time among `repeats` runs."""
    best = None
    for _ in range(repeats):
        clock = Clock()
        result = run()
        cpu, wall = clock.read()
        if best is None or cpu < best[0]:
            best = (cpu, wall, result)
    return best


def ours_unique(table: StatisticsTable, target: np.ndarray, trees: list[gp.PrimitiveTree],
                repeats: int) -> tuple[float, list[float]]:
    """Return (CPU seconds, fitness values) of a fresh `Fitness` on distinct trees, after a warm-up."""
    FITNESSES["kendall"]([Task(table, target)])(trees[:50])  # allocator, kernels, caches
    fitnesses = []

    def run() -> list[float]:
        fitnesses.append(FITNESSES["kendall"]([Task(table, target)]))
        return fitnesses[-1](trees)

    cpu, wall, values = best_of(repeats, run)
    print(f"  ours, unique evaluations: {cpu / len(trees) * 1e6:6.0f} us each ({len(trees) / cpu:5.0f} /s; wall "
          f"{wall / len(trees) * 1e6:.0f} us), {sum(math.isfinite(v) for v in values)} of {len(trees)} valid")
    hits_cpu, _, _ = best_of(repeats, lambda: fitnesses[-1](trees))
    print(f"  ours, memo hits:          {hits_cpu / len(trees) * 1e6:6.1f} us each")
    return cpu, values


def ours_stages(table: StatisticsTable, target: np.ndarray, trees: list[gp.PrimitiveTree], device: str,
                repeats: int) -> None:
    """Print the CPU time of each stage of a unique evaluation: memo key, run (with interning), rank."""
    inputs, tau = bind(table), KendallTau(target)
    evaluators = []

    def run() -> torch.Tensor:
        evaluators.append(Evaluator(inputs))
        scores = torch.stack([evaluators[-1](t) for t in trees])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return scores

    key_cpu, _, _ = best_of(repeats, lambda: [str(t) for t in trees])
    run_cpu, run_wall, scores = best_of(repeats, run)
    numpy_scores = scores.double().cpu().numpy()
    rank_cpu, _, _ = best_of(repeats, lambda: [tau.batch(numpy_scores[i:i + 16]) for i in range(0, len(trees), 16)])
    per = 1e6 / len(trees)
    calls = f"{evaluators[-1].computed} primitive calls, {evaluators[-1].reused} reused"
    print(f"  ours, stages: memo key {key_cpu * per:.0f} us, run {run_cpu * per:.0f} us (wall {run_wall * per:.0f}; "
          f"{calls}), Kendall tau {rank_cpu * per:.0f} us")


def plain_unique(plain: PlainDeap, trees: list[gp.PrimitiveTree], repeats: int) -> tuple[float, list[float]]:
    """Return (CPU seconds, fitness values) of plain DEAP on the trees, printing its stages."""
    plain(trees[:50])
    cpu, wall, values = best_of(repeats, lambda: plain(trees))
    compile_cpu, _, functions = best_of(repeats, lambda: [plain.compile(t) for t in trees])
    run_cpu, _, scores = best_of(repeats, lambda: [plain.run(f) for f in functions])
    rank_cpu, _, _ = best_of(repeats, lambda: [plain.rank(s) for s in scores])
    per = 1e6 / len(trees)
    print(f"  plain DEAP, unique evaluations: {cpu * per:6.0f} us each (wall {wall * per:.0f} us); stages: "
          f"gp.compile {compile_cpu * per:.0f} us, run {run_cpu * per:.0f} us, "
          f"scipy kendalltau {rank_cpu * per:.0f} us")
    return cpu, values


def agreement(ours: list[float], plain: list[float]) -> str:
    """Return how far plain DEAP's taus agree with ours, as text."""
    a, b = np.array(ours), np.array(plain)
    both = np.isfinite(a) & np.isfinite(b)
    difference = np.abs(a[both] - b[both])
    return (f"valid in both {both.sum()} (ours only {(np.isfinite(a) & ~np.isfinite(b)).sum()}, plain only "
            f"{(~np.isfinite(a) & np.isfinite(b)).sum()}); |tau difference| <= 1e-6 for "
            f"{np.mean(difference <= 1e-6):.1%}, <= 1e-3 for {np.mean(difference <= 1e-3):.1%}, "
            f"largest {difference.max():.3g}")


def search_batches(table: StatisticsTable, target: np.ndarray, population: int, generations: int,
                   seed: int) -> list[list[str]]:
    """Return the expressions a real search asked its fitness for, one list per generation."""
    batches: list[list[str]] = []

    class Recording(Fitness):
        def __call__(self, trees):
            batches.append([str(t) for t in trees])
            return super().__call__(trees)

    if "bench_recording" not in FITNESSES:
        FITNESSES.add("bench_recording", lambda tasks: Recording(tasks, lambda taus: taus[0]))
    evolve(table, target, GPConfig(population=population, generations=generations, fitness="bench_recording",
                                   seed=seed))
    return batches


def populations(table: StatisticsTable, target: np.ndarray, pset: gp.PrimitiveSetTyped, plain: PlainDeap,
                args: argparse.Namespace) -> None:
    """Print the seconds each generation of a real search takes to evaluate, ours beside plain DEAP."""
    batches = [[parse_tree(e, pset) for e in batch]
               for batch in search_batches(table, target, args.population, args.generations, args.seed)]

    def replay(evaluate: Callable[[list[gp.PrimitiveTree]], object]) -> list[float]:
        seconds = []
        for batch in batches:
            clock = Clock()
            evaluate(batch)
            seconds.append(clock.read()[0])
        return seconds

    fitnesses = []

    def ours_search() -> list[float]:
        fitnesses.append(FITNESSES["kendall"]([Task(table, target)]))  # a fresh memo, as a search starts
        return replay(fitnesses[-1])

    _, _, ours = best_of(args.repeats, ours_search)
    _, _, theirs = best_of(args.repeats, lambda: replay(plain))
    unique, sizes = fitnesses[-1].unique, [len(b) for b in batches]
    print(f"  {len(batches)} generations of {args.population} (evaluated per generation: {min(sizes)}-{max(sizes)}; "
          f"unique expressions over the search: {unique})")
    print(f"  ours:       generation 0 {ours[0]:.3f} s, slowest {max(ours):.3f} s, mean {np.mean(ours):.3f} s, "
          f"per unique evaluation {sum(ours) / unique * 1e6:.0f} us")
    print(f"  plain DEAP: generation 0 {theirs[0]:.3f} s, slowest {max(theirs):.3f} s, mean {np.mean(theirs):.3f} s, "
          f"per evaluated individual {sum(theirs) / sum(sizes) * 1e6:.0f} us")
    print(f"  ratio plain DEAP / ours, whole search (ours with its memo): {sum(theirs) / sum(ours):.1f}x")


def profile(table: StatisticsTable, target: np.ndarray, trees: list[gp.PrimitiveTree]) -> None:
    """Print where our unique evaluations of the trees spend CPU time: each primitive (timed around its
    calls; primitives do not call each other), and everything else (memo keys, interning, ranking)."""
    own: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    originals = {name: definition.function for name, definition in PRIMITIVES.items()}

    def timed(name: str, function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def call(*arguments):
            start = time.thread_time()
            value = function(*arguments)
            own[name] += time.thread_time() - start
            calls[name] += 1
            return value
        return call

    for name, definition in PRIMITIVES.items():  # the registry's frozen records, patched for this run only
        object.__setattr__(definition, "function", timed(name, originals[name]))
    primitives.layer_sum = timed("layer_sum", layer_sum)  # called inside the reductions: timed within them
    try:
        fitness = FITNESSES["kendall"]([Task(table, target)])
        clock = Clock()
        fitness(trees)
        total, _ = clock.read()
    finally:
        for name, definition in PRIMITIVES.items():
            object.__setattr__(definition, "function", originals[name])
        primitives.layer_sum = layer_sum
    within = own.pop("layer_sum", 0.0), calls.pop("layer_sum", 0)
    per = 1e6 / len(trees)
    print(f"  profile of one pass ({total * per:.0f} us per unique evaluation, CPU time), per evaluation:")
    for name, seconds in own.most_common():
        print(f"    {seconds * per:6.1f} us  {calls[name] / len(trees):5.2f} calls  {name}")
    print(f"    {(total - sum(own.values())) * per:6.1f} us  outside primitives (memo keys, interning, ranking, ...)")
    print(f"    {within[0] * per:6.1f} us  {within[1] / len(trees):5.2f} calls  layer_sum: the exact sums over layers "
          "inside sum/mean/std_layers, normalise and depth_weighted_sum (counted in them above)")
    values = bind(table).values["layer_stat0"] * bind(table).mask.present
    exact, _, _ = best_of(5, lambda: [layer_sum(values) for _ in range(200)])
    plain, _, _ = best_of(5, lambda: [values.sum(0, keepdim=True) for _ in range(200)])
    print(f"  layer_sum of one per-layer value: {exact / 200 * 1e6:.1f} us; torch's float32 sum of it: "
          f"{plain / 200 * 1e6:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--smallest", type=int, default=8, help="fewest nodes of a benchmark tree")
    parser.add_argument("--largest", type=int, default=40, help="most nodes of a benchmark tree")
    parser.add_argument("--population", type=int, default=1000, help="population of the real search (0: skip it)")
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement; the least CPU time is shown")
    parser.add_argument("--profile", action="store_true", help="also profile our unique evaluations")
    parser.add_argument("--plain-dtype", default="float32", choices=("float32", "float64"),
                        help="plain DEAP's array type (float32: the table as stored)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    host = synthetic_table(args.archs, args.layers, args.seed)
    table = host.to(args.device)
    target = structured_target(host, args.seed + 1)
    pset = build_pset(list(table.layer), list(table.scalar))
    trees = random_trees(pset, args.programs, args.smallest, args.largest)
    sizes = [len(t) for t in trees]
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{args.threads} thread(s)"
    print(f"device {args.device} ({where}), {args.archs} archs x {args.layers} layers, {len(trees)} distinct trees of "
          f"{np.mean(sizes):.1f} nodes on average (median {np.median(sizes):.0f}, {min(sizes)}-{max(sizes)}); "
          "CPU time of this thread")

    print("Distinct random trees:")
    ours_cpu, ours_values = ours_unique(table, target, trees, args.repeats)
    ours_stages(table, target, trees, args.device, args.repeats)
    if args.profile:
        profile(table, target, trees)
    plain = PlainDeap(host, target, pset, args.plain_dtype)
    plain_cpu, plain_values = plain_unique(plain, trees, args.repeats)
    print(f"  ratio plain DEAP / ours per unique evaluation: {plain_cpu / ours_cpu:.1f}x")
    print(f"  agreement: {agreement(ours_values, plain_values)}")
    if args.population:
        print("A real search's populations:")
        populations(table, target, pset, plain, args)


if __name__ == "__main__":
    main()
