"""Energy of scoring an arch (lean and default statistics) beside the energy of training it, as the benchmark records.

Computes the statistics of `--archs` NATS-Bench TSS archs (archs 0, 11 and 284 first: the official
NATS-Bench sample holds their training records) into a fresh cache, one CPU thread, and reads each
arch's joules from the cache records (measured where the machine has a counter, else estimated:
greenmachine.energy). Then reads the training time of the same three archs from the official
records (`train-all-time`: one training run, 200 and 12 epochs, cifar10) and turns it into joules
with a stated GPU power (`--train-gpu-watts`; NATS-Bench's records do not name the GPU), and prints
the ratio training / scoring per arch.

    python experiments/energy_ratio.py --archs 30 --train-gpu-watts 250
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from greenmachine.archs import select_archs
from greenmachine.compute import make_cache
from greenmachine.config import ProbeConfig
from greenmachine.data import make_probe
from greenmachine.energy import EnergyMeter, format_joules
from greenmachine.markdown import markdown_table
from greenmachine.paths import data_dir
from greenmachine.statistics import StatisticsOptions, default_statistics
from greenmachine.statistics.engine import lean_statistics, passes_for
from greenmachine.statistics.runner import CacheJob, fill_cache

RECORDED = (0, 11, 284)  # the archs whose official records ship in nats_official/
# the presets of conf/statistics: names and the options they set
PRESETS = {"lean": (lean_statistics, StatisticsOptions(zen_batch=8, az_batch=8)),
           "default": (default_statistics, StatisticsOptions())}


def training_seconds(archs: tuple[int, ...], epochs: int) -> dict[int, float]:
    """Return the recorded time of one cifar10 training run of each arch (NATS-Bench `train-all-time`), seconds."""
    from nats_bench import create

    folder = data_dir(None) / "nats_official" / "NATS-tss-v1_0-3ffb9-simple"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = create(str(folder), "tss", fast_mode=True, verbose=False)
        out = {}
        for arch in archs:
            api.reload(str(folder), arch)
            out[arch] = float(api.get_more_info(arch, "cifar10", hp=str(epochs), is_random=False)["train-all-time"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=30, help="archs scored (the three recorded ones included)")
    parser.add_argument("--train-gpu-watts", type=float, default=250.0, help="power of the GPU the benchmark trained on")
    parser.add_argument("--cache", default=None, help="cache folder (default: a fresh temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    archs = list(RECORDED) + [int(a) for a in select_archs("nats_tss", args.archs) if int(a) not in RECORDED]
    archs = np.array(archs[: args.archs])
    probe = make_probe("cifar10", ProbeConfig())
    meter = EnergyMeter("cpu")
    print(f"{len(archs)} TSS archs, cifar10 probe batch {probe.inputs.shape[0]}, one thread; energy {meter.describe()}\n")
    cost = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.cache or scratch)
        for preset, (names, options) in PRESETS.items():
            cache = make_cache("nats_tss", "cifar10", probe, options, root)
            passes = passes_for(names())
            fill_cache(cache, [int(a) for a in archs], passes, CacheJob("nats_tss", "cifar10", probe, options),
                       workers=1, progress=False)
            cost[preset] = cache.costs(passes, archs)
    print(markdown_table(["statistics", "s/arch (recorded wall time)", "J/arch mean", "J/arch median", "label"],
                         [[preset, f"{c.seconds.mean():.2f}", format_joules(c.joules.mean()),
                           format_joules(float(np.median(c.joules))), c.source] for preset, c in cost.items()]))
    print(f"\nTraining (NATS-Bench records, one cifar10 run) at an assumed {args.train_gpu_watts:g} W GPU, "
          "against scoring the same arch:\n")
    rows = []
    for epochs in (200, 12):
        for arch, seconds in training_seconds(RECORDED, epochs).items():
            trained = seconds * args.train_gpu_watts
            i = int(np.flatnonzero(archs == arch)[0])
            lean, full = cost["lean"].joules[i], cost["default"].joules[i]
            rows.append([arch, epochs, f"{seconds:.0f}", format_joules(trained), format_joules(lean),
                         f"{trained / lean:,.0f}", format_joules(full), f"{trained / full:,.0f}"])
    print(markdown_table(["arch", "epochs", "training s", "training J", "lean J", "training / lean", "default J",
                          "training / default"], rows))


if __name__ == "__main__":
    main()
