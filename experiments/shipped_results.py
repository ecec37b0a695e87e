"""Results of the shipped proxies, one row per proxy, target and arch set: experiments/results/shipped_proxies.csv.

    python experiments/shipped_results.py

Rows measured from a committed score table (`source` = its file name: whole spaces, the fixed
3,000-arch NATS evaluation holdouts, the first N archs of a space) are recomputed here from the table
and the benchmark's accuracies, and `tests/test_shipped_results.py` checks them the same way. Rows
measured by the search that found a proxy (`source` = `search <run_id>`: its search sample, holdout
and evaluation holdout, as its report recorded them) are kept as they are in the file. Every row
says whether its target was searched by that proxy's search.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from greenmachine.benchmark import load_benchmark
from greenmachine.finite import finite_in_order
from greenmachine.metrics import kendall, spearman
from greenmachine.proxies import DISCOVERED
from greenmachine.proxies.provenance import searched_targets
from greenmachine.spaces import all_spaces, get_space

RESULTS = Path(__file__).parent / "results"
FILE = RESULTS / "shipped_proxies.csv"
COLUMNS = ["proxy", "target", "archs", "arch_set", "kendall", "spearman", "searched", "source"]


def arch_set(stem: str, space: str) -> str:
    """Return what the archs of table `scores_<stem>` are: the whole space, the evaluation holdout, or the first N."""
    if stem == space:
        return "whole space"
    n = int(stem.rsplit("_", 1)[1])
    return "evaluation holdout" if n == get_space(space).evaluation_size else f"first {n} of the fixed random order"


def table_rows(results: Path = RESULTS) -> pd.DataFrame:
    """Return Kendall tau and Spearman rho of every shipped proxy in every committed score table, per dataset."""
    names = {s.name for s in all_spaces()}
    rows = []
    for path in sorted(results.glob("scores_*.csv.xz")):
        stem = path.name.removeprefix("scores_").removesuffix(".csv.xz")
        space = stem if stem in names else stem.rsplit("_", 1)[0]
        frame = pd.read_csv(path)
        for dataset, group in frame.groupby("dataset", sort=False):
            accuracy = load_benchmark(space).accuracies(dataset)[group.arch_index.to_numpy()]
            target = f"{space}/{dataset}"
            for name in (n for n in DISCOVERED if n in group.columns):  # tables written before a proxy shipped lack it
                scores = finite_in_order(group[name].to_numpy())
                rows.append({"proxy": name, "target": target, "archs": len(group), "arch_set": arch_set(stem, space),
                             "kendall": round(kendall(scores, accuracy), 4),
                             "spearman": round(spearman(scores, accuracy), 4),
                             "searched": target in searched_targets(name), "source": path.name})
    return pd.DataFrame(rows, columns=COLUMNS)


def main() -> None:
    kept = pd.read_csv(FILE) if FILE.exists() else pd.DataFrame(columns=COLUMNS)
    kept = kept[kept.source.str.startswith("search ")]
    frame = pd.concat([table_rows(), kept])[COLUMNS].astype({"archs": "Int64"})
    order = {name: i for i, name in enumerate(DISCOVERED)}
    frame = frame.sort_values(["proxy", "source", "target"], key=lambda c: c.map(order) if c.name == "proxy" else c,
                              kind="stable")
    frame.to_csv(FILE, index=False)
    from_tables = int(np.sum(~frame.source.str.startswith("search ")))
    print(f"wrote {len(frame)} rows ({from_tables} from score tables) -> {FILE}")


if __name__ == "__main__":
    main()
