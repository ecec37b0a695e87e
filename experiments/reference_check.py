"""Check our baseline proxies against NASLib's stored values (NAS-Bench-Suite-Zero) on one space.

For the first N archs of the space's fixed random order, prints a Markdown table: our Kendall tau,
NASLib's values' tau on the same archs where it has them and ours on that subset, the published
full-space tau (NATS TSS: VKDNW Table 1, ANCHORS.md), and the Spearman correlation of our per-arch
values with NASLib's. Failures rank last (as NASLib's -1e8). Computes the statistics the cache lacks.

    python experiments/reference_check.py [--space nats_tss] [--archs 1000] [--statistics default]
    python experiments/reference_check.py --space nasbench101 --archs 500
    python experiments/reference_check.py --space transnas_micro --archs 200

NASLib's files: TSS cifar10 (`nats_tss/zc_proxies_naslib.csv.gz`), the NAS-Bench-101 sample
(`nasbench101/zc_nasbench101_naslib_500.json.gz`) and TransNAS micro class_scene
(`transnas_micro/tnb101_micro_class_scene_zc_proxies.csv.gz`).
"""

from __future__ import annotations

import argparse
import gzip
import json

import numpy as np
import pandas as pd

from greenmachine import PROXIES, Compute, score_archs, select_archs
from greenmachine.benchmark import load_benchmark
from greenmachine.finite import finite_in_order
from greenmachine.markdown import markdown_table
from greenmachine.metrics import kendall, spearman
from greenmachine.paths import data_dir
from greenmachine.spaces import get_space
from greenmachine.statistics import default_statistics, lean_statistics
BASELINES = ["synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "zen", "zico", "meco", "meco_opt",
             "swap", "az_nas", "l2_norm", "params", "flops"]
# Proxies whose value is fixed by the network and the probe (no random re-initialisation or noise input).
DETERMINISTIC = ("synflow", "params", "flops", "l2_norm", "nwot", "jacov", "snip", "grad_norm", "fisher")
# VKDNW (CVPR 2025) Table 1, cifar10 Kendall tau over all 15,625 TSS archs (ANCHORS.md); AZ-NAS notebook for az_nas.
PUBLISHED = {"nats_tss": {"flops": 0.623, "grad_norm": 0.328, "grasp": 0.352, "snip": 0.431, "synflow": 0.561,
                          "jacov": 0.616, "nwot": 0.571, "zen": 0.102, "zico": 0.607, "az_nas": 0.712}}


def naslib_values(space: str) -> tuple[str, pd.DataFrame]:
    """Return (dataset, NASLib's proxy values indexed by our arch index) for a space NASLib covers."""
    ours = get_space(space)
    root = data_dir()
    if space == "nats_tss":
        frame = pd.read_csv(root / "nats_tss" / "zc_proxies_naslib.csv.gz")
        return "cifar10", frame[frame.dataset == "cifar10"].set_index("arch_index")
    if space == "nasbench101":
        with gzip.open(root / "nasbench101" / "zc_nasbench101_naslib_500.json.gz", "rt") as f:
            records = json.load(f)["nasbench101"]["cifar10"]
        frame = pd.DataFrame.from_dict(records, orient="index")
        frame.index = [ours.index_of(a) for a in frame.index]
        return "cifar10", frame
    if space == "transnas_micro":
        frame = pd.read_csv(root / "transnas_micro" / "tnb101_micro_class_scene_zc_proxies.csv.gz")
        frame.index = [ours.index_of(a) for a in frame.net]
        return "class_scene", frame
    raise SystemExit(f"no NASLib values for {space}; valid: nats_tss, nasbench101, transnas_micro")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nats_tss", choices=["nats_tss", "nasbench101", "transnas_micro"])
    parser.add_argument("--archs", type=int, default=1000, help="the first N archs of the space's fixed random order")
    parser.add_argument("--statistics", default="default", choices=["default", "lean"],
                        help="lean: only the proxies the lean passes give (params, flops, l2_norm, synflow, ...)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    dataset, naslib = naslib_values(args.space)
    archs = np.sort(select_archs(args.space, min(args.archs, get_space(args.space).size)))
    available = set(default_statistics() if args.statistics == "default" else lean_statistics())
    proxies = [n for n in BASELINES if set(PROXIES[n].statistics) <= available]
    # the settings of `greenmachine cache statistics=<default|lean>` (its default probe), so scores reuse its cache
    scored = score_archs(proxies, args.space, dataset, archs, args.statistics, compute=Compute(workers=args.workers))
    archs = scored.archs
    accuracy = load_benchmark(args.space).accuracies(dataset)[archs]
    taus = scored.correlations(accuracy)
    shared = np.flatnonzero(np.isin(archs, naslib.index))
    print(f"{args.space} {dataset} accuracy, first {len(archs)} archs of the fixed random order, {args.statistics} "
          f"statistics; probe: {scored.probe.origin or scored.probe.source}, batch {scored.probe.batch_size}, seed "
          f"{scored.probe.seed}; {len(shared)} of them have NASLib values\n")
    rows = []
    for name in proxies:
        scores = finite_in_order(scored.scores[name])
        cells = ("", "", "")
        if name in naslib.columns and len(shared) > 2:
            reference = naslib.loc[archs[shared], name].to_numpy(dtype=np.float64)
            cells = (f"{kendall(scores[shared], accuracy[shared]):.3f}", f"{kendall(reference, accuracy[shared]):.3f}",
                     f"{spearman(scores[shared], reference):.3f}")
        published = PUBLISHED.get(args.space, {}).get(name)
        rows.append([name, "yes" if name in DETERMINISTIC else "", f"{taus[name].kendall:.3f}", cells[0], cells[1],
                     "" if published is None else f"{published:.3f}", cells[2]])
    print(markdown_table(["proxy", "deterministic", "tau (ours)", "tau ours, NASLib archs", "tau NASLib, same archs",
                          "published full space", "Spearman ours vs NASLib"], rows))


if __name__ == "__main__":
    main()
