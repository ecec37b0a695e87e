"""Estimated energy of finding each shipped proxy: the statistics its search needed plus its GP, from recorded times.

No shipped proxy's search recorded its joules, nor (in the repository) its GP wall time. This
estimates both with greenmachine's power model for one busy CPU thread (energy.estimate_from_seconds):

- statistics: archs per target (1,000 search + 1,000 holdout + the 3,000-arch evaluation holdout)
  x the recorded lean pass time per arch of that target (RECORDED_SECONDS, measured when the whole
  spaces were scored: README, "Whole NATS-Bench TSS space" and "Whole SSS");
- GP: at most population x (generations + 1) program evaluations per searched target (the memo answers
  repeats, so fewer ran), each on 1,000 archs, at `--evaluations-per-second` (measured with
  `python experiments/bench_gp_eval.py --programs 500`, one thread).

Population, generations and targets are read from each proxy's docstring (its `command:` and `tasks:`).

    python experiments/energy_of_finding.py --evaluations-per-second 267
"""

from __future__ import annotations

import argparse
import importlib
import re

from greenmachine.energy import format_joules, power_model, estimate_from_seconds
from greenmachine.markdown import markdown_table

SHIPPED = ("gm_tss_cells", "gm_sss", "gm_general_cells", "gm_sss_cifar10", "gm_sss_cifar100")
ARCHS_PER_TARGET = 1000 + 1000 + 3000
# lean statistics, recorded pass time per arch (s), whole-space runs, one thread per worker on the shared 2-core machine
RECORDED_SECONDS = {
    "nats_tss/cifar10": 0.59, "nats_tss/cifar100": 0.53, "nats_tss/ImageNet16-120": 0.28,
    "nats_sss/cifar10": 0.38, "nats_sss/cifar100": 0.35, "nats_sss/ImageNet16-120": 0.22,
}


def search_settings(proxy: str) -> tuple[int, int, bool, list[str]]:
    """Return (population, generations, every target searched, targets) from a shipped proxy's docstring."""
    doc = importlib.import_module(f"greenmachine.proxies.{proxy}").__doc__
    command = re.search(r"command: (.*)", doc).group(1)
    targets = re.search(r"tasks: (.*)", doc).group(1).strip().split(",")
    population = int(re.search(r"gp\.population=(\d+)", command).group(1))
    generations = int(re.search(r"gp\.generations=(\d+)", command).group(1))
    multi = re.search(r"gp\.fitness=(mean|min)_kendall", command) is not None
    return population, generations, multi, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations-per-second", type=float, required=True,
                        help="unique program evaluations per second on 1,000 archs, one thread (bench_gp_eval.py)")
    args = parser.parse_args()
    print(f"estimated, one busy CPU thread: {power_model().describe()}\n")
    rows = []
    for proxy in SHIPPED:
        population, generations, multi, targets = search_settings(proxy)
        statistics_s = sum(ARCHS_PER_TARGET * RECORDED_SECONDS[t] for t in targets)
        evaluations = population * (generations + 1) * (len(targets) if multi else 1)
        gp_s = evaluations / args.evaluations_per_second
        statistics_j, gp_j = estimate_from_seconds(statistics_s), estimate_from_seconds(gp_s)
        rows.append([proxy, len(targets), f"{statistics_s:,.0f}", format_joules(statistics_j), f"{evaluations:,}",
                     f"{gp_s:,.0f}", format_joules(gp_j), format_joules(statistics_j + gp_j)])
    print(markdown_table(["proxy", "targets", "statistics s (recorded)", "statistics J", "GP evaluations (at most)",
                          "GP s", "GP J", "total"], rows))


if __name__ == "__main__":
    main()
