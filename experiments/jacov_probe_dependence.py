"""How much do jacov's per-arch values depend on the probe? Two of our probes beside NASLib's stored values.

    python experiments/jacov_probe_dependence.py [--archs 30]

Scores N NAS-Bench-101 archs (the lowest indices among the 100 that `reference_check.py --archs 100`
checks, the first 100 of the fixed random order) with jacov under probe seed 0 and
probe seed 1 (other CIFAR-10 images, other initialisation) and prints the per-arch Spearman rho
between the two and between each and NASLib's stored jacov (`zc_nasbench101_naslib_500.json.gz`).
A rho well below 1 between our own two probes bounds how close any single probe can come to
NASLib's, which drew its own training batch.
"""

from __future__ import annotations

import argparse
import gzip
import json

import numpy as np
from scipy.stats import spearmanr

from greenmachine import Compute, score_archs, select_archs
from greenmachine.config import ProbeConfig
from greenmachine.paths import data_dir
from greenmachine.spaces import get_space

SPACE = "nasbench101"
NASLIB_FILE = "zc_nasbench101_naslib_500.json.gz"


def naslib_jacov() -> dict[int, float]:
    """Return arch index -> NASLib's stored jacov for the 500 archs of its file."""
    with gzip.open(data_dir() / SPACE / NASLIB_FILE, "rt") as f:
        records = json.load(f)[SPACE]["cifar10"]
    space = get_space(SPACE)
    return {space.index_of(arch): record["jacov"] for arch, record in records.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=30, help="how many of the reference check's 100 archs (lowest indices first)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    archs = np.sort(select_archs(SPACE, 100))[:args.archs]
    runs = {}
    for seed in (0, 1):
        table = score_archs(["jacov"], SPACE, "cifar10", archs, "default", ProbeConfig(seed=seed),
                            Compute(workers=args.workers))
        runs[seed] = dict(zip(table.archs.tolist(), table.scores["jacov"]))
    naslib = naslib_jacov()
    common = sorted(set(runs[0]) & set(runs[1]) & set(naslib))
    ours0, ours1, theirs = (np.array([values[i] for i in common]) for values in (runs[0], runs[1], naslib))
    print(f"{len(common)} NAS-Bench-101 archs, jacov per-arch Spearman rho: probe seed 0 vs seed 1 "
          f"{spearmanr(ours0, ours1)[0]:.3f}; seed 0 vs NASLib {spearmanr(ours0, theirs)[0]:.3f}; "
          f"seed 1 vs NASLib {spearmanr(ours1, theirs)[0]:.3f}")


if __name__ == "__main__":
    main()
