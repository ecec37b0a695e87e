"""Print each discovered proxy's scores (shipped and NATS-cell ones) on the families of tests/test_families.py.

    python experiments/family_scores.py

Same networks and probe as the test. One Markdown row per proxy and family: the score of each member
in (width, blocks) order, whether all are finite and how many are distinct (the family test asks
shipped proxies for all of them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the families are defined in the test

import greenmachine as gm  # noqa: E402
from greenmachine.markdown import markdown_table  # noqa: E402
from greenmachine.proxies import DISCOVERED  # noqa: E402
from tests.test_families import FAMILIES, MEMBERS, family_probe, network  # noqa: E402


def main() -> None:
    probe = family_probe()
    print(f"members (width, blocks): {MEMBERS}")
    rows = []
    for family in FAMILIES:
        scores: dict[str, list[float]] = {name: [] for name in DISCOVERED}
        for width, depth in MEMBERS:
            for name, value in gm.score(network(family, width, depth), probe, proxies=list(DISCOVERED)).items():
                scores[name].append(value)
        for name, values in scores.items():
            v = np.asarray(values)
            rows.append([family, name, ", ".join(f"{x:.3g}" for x in v), bool(np.isfinite(v).all()),
                         f"{len(np.unique(v))}/{len(v)}"])
    print(markdown_table(["family", "proxy", "scores", "finite", "distinct"], rows))


if __name__ == "__main__":
    main()
