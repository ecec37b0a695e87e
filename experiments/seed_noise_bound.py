"""How well does one training run rank NAS-Bench-Macro's networks against another? A ceiling for any proxy.

    python experiments/seed_noise_bound.py

NAS-Bench-Macro records three training seeds per network (`test_acc`). A proxy is judged against
their mean; two trainings of the same networks already disagree, so no proxy can be expected to rank
much better than one seed ranks another. Prints, over the 3,969 distinct networks and over the first
500 of the fixed random order (the transfer runs' evaluation holdout), the Kendall tau between every
pair of seeds and between each seed and the mean of the other two.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from greenmachine.archs import select_archs
from greenmachine.markdown import markdown_table
from greenmachine.metrics import kendall
from greenmachine.spaces import get_space

SPACE = "nas_bench_macro"


def seed_accuracies() -> np.ndarray:
    """Return the per-seed test accuracies [archs, 3] of the space's distinct networks, in index order."""
    space = get_space(SPACE)
    records = space.records()
    return np.array([records[space.arch_string(i)]["test_acc"] for i in range(space.size)], dtype=np.float64)


def main() -> None:
    accuracy = seed_accuracies()
    sets = {f"all {len(accuracy):,} networks": np.arange(len(accuracy)),
            "first 500 of the fixed random order": np.sort(select_archs(SPACE, 500))}
    rows = []
    for label, archs in sets.items():
        runs = accuracy[archs]
        pairs = [kendall(runs[:, i], runs[:, j]) for i, j in combinations(range(3), 2)]
        others = [kendall(runs[:, i], np.delete(runs, i, axis=1).mean(axis=1)) for i in range(3)]
        rows.append([label, " / ".join(f"{t:.3f}" for t in pairs), " / ".join(f"{t:.3f}" for t in others)])
    print(markdown_table(["archs", "tau, seed vs seed (0-1 / 0-2 / 1-2)", "tau, seed vs mean of the other two"], rows))


if __name__ == "__main__":
    main()
