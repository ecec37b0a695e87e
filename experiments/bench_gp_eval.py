"""Measure GP program evaluations per second: unique (compiled, run, ranked) and memo hits.

Usage: python experiments/bench_gp_eval.py [--archs 1000] [--layers 64] [--programs 2000] [--device cpu]

Builds a synthetic statistics table (random depths, padded layers), draws random trees of the sizes a
search produces, and times the fitness on them: first every tree distinct (each one compiled, run on
the whole table and ranked by Kendall tau), then the same trees again (all answered by the memo),
then the stages of a unique evaluation separately. Benchmarks measure; tests assert.
"""

from __future__ import annotations

import argparse
import math
import random
import time

import numpy as np
import torch
from deap import gp

from greenmachine.gp.evaluate import bind, compile_program
from greenmachine.gp.fitness import FITNESSES, Task
from greenmachine.gp.pset import build_pset, generate
from greenmachine.metrics import KendallTau
from greenmachine.statistics.table import StatisticsTable


def synthetic_table(archs: int, layers: int, seed: int) -> StatisticsTable:
    """Return a table of `archs` archs with depths in [layers/3, layers], 15 per-layer and 10 scalar statistics."""
    rng = np.random.default_rng(seed)
    depths = rng.integers(layers // 3, layers + 1, size=archs)
    mask = torch.as_tensor(np.arange(layers)[None, :] < depths[:, None])
    layer = {f"layer_stat{i}": torch.as_tensor(rng.lognormal(size=(archs, layers)).astype(np.float32)) * mask
             for i in range(15)}
    scalar = {f"net_stat{i}": torch.as_tensor(rng.lognormal(size=archs).astype(np.float32)) for i in range(10)}
    return StatisticsTable(np.arange(archs), layer, mask, scalar)


def random_trees(pset: gp.PrimitiveSetTyped, count: int, smallest: int, largest: int) -> list[gp.PrimitiveTree]:
    """Return `count` distinct random trees of `smallest` to `largest` nodes."""
    trees: dict[str, gp.PrimitiveTree] = {}
    while len(trees) < count:
        tree = gp.PrimitiveTree(generate(pset, 2, 7))
        if smallest <= len(tree) <= largest:
            trees.setdefault(str(tree), tree)
    return list(trees.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--programs", type=int, default=2000)
    parser.add_argument("--smallest", type=int, default=8, help="fewest nodes of a benchmark tree")
    parser.add_argument("--largest", type=int, default=40, help="most nodes of a benchmark tree")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    table = synthetic_table(args.archs, args.layers, args.seed).to(args.device)
    target = np.random.default_rng(args.seed + 1).normal(size=args.archs)
    pset = build_pset(list(table.layer), list(table.scalar))
    trees = random_trees(pset, args.programs, args.smallest, args.largest)
    sizes = [len(t) for t in trees]
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{args.threads} thread(s)"
    print(f"device {args.device} ({where}), "
          f"{args.archs} archs x {args.layers} layers, {len(trees)} distinct trees of "
          f"{np.mean(sizes):.1f} nodes on average (median {np.median(sizes):.0f}, {min(sizes)}-{max(sizes)})")

    fitness = FITNESSES["kendall"]([Task(table, target)])
    fitness(trees[:50])  # warm-up: allocator, kernels, caches
    fitness = FITNESSES["kendall"]([Task(table, target)])
    start = time.perf_counter()
    values = fitness(trees)
    unique_seconds = time.perf_counter() - start
    valid = sum(math.isfinite(v) for v in values)
    print(f"unique evaluations: {len(trees) / unique_seconds:8.0f} /s  ({valid} of {len(trees)} valid)")

    start = time.perf_counter()
    fitness(trees)
    hit_seconds = time.perf_counter() - start
    print(f"memo hits:          {len(trees) / hit_seconds:8.0f} /s  (hits counted: {fitness.hits})")

    inputs, tau = bind(table), KendallTau(target)
    start = time.perf_counter()
    programs = [compile_program(t) for t in trees]
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with torch.inference_mode():
        scores = torch.stack([p(inputs) for p in programs])
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
    run_seconds = time.perf_counter() - start
    numpy_scores = scores.double().cpu().numpy()
    start = time.perf_counter()
    for first in range(0, len(trees), 16):
        tau.batch(numpy_scores[first:first + 16])
    rank_seconds = time.perf_counter() - start
    per_tree = 1e6 / len(trees)
    print(f"per unique evaluation: compile {compile_seconds * per_tree:.0f} us, run {run_seconds * per_tree:.0f} us, "
          f"Kendall tau {rank_seconds * per_tree:.0f} us")


if __name__ == "__main__":
    main()
