"""Does the TransNAS probe's resolution change how the label-free proxies rank the archs?

TransNAS-Bench-101 networks were trained on 256x256 Taskonomy images; none ship with the data, so
greenmachine probes them with Gaussian noise at 64x64 (a 256x256 pass costs about 16x more). This
script scores the first N archs of the fixed random order at both resolutions with the label-free
lean proxies and the shipped proxies (label-free too: they read only lean statistics) and prints, per proxy, the Kendall tau between its 64x64 and 256x256 scores and each
resolution's tau against the benchmark's accuracy.

    python experiments/transnas_resolution.py [--archs 200] [--dataset class_scene] [--high 256]

Statistics go to the usual cache (keyed by the resolution), so a rerun costs nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from greenmachine import Compute, score_archs, select_archs
from greenmachine.benchmark import load_benchmark
from greenmachine.config import ProbeConfig
from greenmachine.finite import finite_in_order
from greenmachine.markdown import markdown_table
from greenmachine.metrics import kendall
from greenmachine.proxies import DISCOVERED

SPACE = "transnas_micro"
# Label-free proxies of the lean passes (no labels, no backward through a loss).
LABEL_FREE = ("synflow", "zen", "meco", "meco_opt", "az_nas", "l2_norm", "params", "flops")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=200, help="the first N archs of the fixed random order")
    parser.add_argument("--dataset", default="class_scene", choices=["class_scene", "class_object"])
    parser.add_argument("--low", type=int, default=64)
    parser.add_argument("--high", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    archs = np.sort(select_archs(SPACE, args.archs))
    scored, seconds = {}, {}
    for resolution in (args.low, args.high):
        probe_config = ProbeConfig(resolution=resolution)
        start = time.perf_counter()
        scored[resolution] = score_archs([*LABEL_FREE, *DISCOVERED], SPACE, args.dataset, archs, "lean", probe_config,
                                         Compute(workers=args.workers))
        seconds[resolution] = scored[resolution].seconds / max(1, len(scored[resolution].archs))
        print(f"{args.dataset} at {resolution}x{resolution}: {len(scored[resolution].archs)} archs, "
              f"{seconds[resolution]:.2f} s/arch of recorded statistics time ({time.perf_counter() - start:.0f} s here)")
    common = np.intersect1d(scored[args.low].archs, scored[args.high].archs)
    accuracy = load_benchmark(SPACE).accuracies(args.dataset)[common]

    def on_common(resolution: int, name: str) -> np.ndarray:
        rows = np.searchsorted(scored[resolution].archs, common)
        return finite_in_order(scored[resolution].scores[name][rows])

    print(f"\n{len(common)} archs scored at both; Gaussian-noise probe, batch {probe_config.batch_size}, "
          f"seed {probe_config.seed}\n")
    rows = []
    for name in [*LABEL_FREE, *DISCOVERED]:
        low, high = on_common(args.low, name), on_common(args.high, name)
        rows.append([name, f"{kendall(low, high):.3f}", f"{kendall(low, accuracy):.3f}", f"{kendall(high, accuracy):.3f}"])
    print(markdown_table(["proxy", f"tau {args.low} vs {args.high}", f"tau vs accuracy at {args.low}",
                          f"tau vs accuracy at {args.high}"], rows))
    print(f"\ncost: {seconds[args.high] / seconds[args.low]:.1f}x the recorded statistics time per arch at "
          f"{args.high}x{args.high}")


if __name__ == "__main__":
    main()
