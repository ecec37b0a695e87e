"""Cost of the statistics pass against one bare forward+backward and against each baseline alone.

Prints, over the same archs and probe, side by side in one run: seconds per arch of a bare
forward+backward at the probe batch, of the full (default) statistics pass, and of every baseline
computed on its own in a separate call; then the ratios and archs per second.

    python experiments/bench_statistics.py --archs 50 --threads 1
"""

from __future__ import annotations

import argparse
import statistics as pystats
import time

import torch
import torch.nn.functional as F

from greenmachine import PROXIES, build_network, compute_statistics
from greenmachine.config import ProbeConfig
from greenmachine.proxies import proxy_statistics
from greenmachine.statistics import StatisticsOptions, default_statistics
from greenmachine.statistics.cache import init_seed
from greenmachine.workspace import make_probe, select_archs

BASELINES = ["synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "zen", "zico", "meco", "meco_opt",
             "swap", "az_nas", "l2_norm", "params", "flops"]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nats_tss")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--archs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    probe = make_probe(args.dataset, ProbeConfig()).to(args.device)
    options = StatisticsOptions()
    archs = select_archs(args.space, args.archs)
    rows: dict[str, list[float]] = {"bare forward+backward": [], "full statistics pass": []}
    rows.update({name: [] for name in BASELINES})
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    for i, arch in enumerate(archs):
        torch.manual_seed(init_seed(probe.seed, int(arch)))
        net = build_network(args.space, int(arch), args.dataset).to(args.device)
        if i == 0:  # warm up allocators and kernels once, untimed
            compute_statistics(net, probe, default_statistics(), options)

        def bare():
            F.cross_entropy(net(probe.inputs), probe.targets).backward()
            net.zero_grad(set_to_none=True)
            sync()

        rows["bare forward+backward"].append(timed(bare))
        rows["full statistics pass"].append(timed(lambda: compute_statistics(net, probe, default_statistics(), options)))
        for name in BASELINES:
            rows[name].append(timed(lambda: compute_statistics(net, probe, proxy_statistics([name]), options)))
        print(f"\r{i + 1}/{len(archs)} archs", end="", flush=True)
    print()
    bare_s = pystats.mean(rows["bare forward+backward"])
    full_s = pystats.mean(rows["full statistics pass"])
    one_by_one = sum(pystats.mean(rows[name]) for name in BASELINES)
    print(f"{args.space} {args.dataset}, {len(archs)} archs, probe batch {probe.batch_size}, device {args.device}, "
          f"{args.threads} thread(s)")
    print(f"{'what':28s} {'s/arch':>8s} {'x bare':>7s}")
    for name, values in rows.items():
        print(f"{name:28s} {pystats.mean(values):8.3f} {pystats.mean(values) / bare_s:7.2f}")
    print(f"{'baselines one by one (sum)':28s} {one_by_one:8.3f} {one_by_one / bare_s:7.2f}")
    print(f"full pass / bare = {full_s / bare_s:.2f} (target <= 3); baselines one by one / full pass = "
          f"{one_by_one / full_s:.2f} (target >= 4)")
    print(f"archs per second, full pass: {1 / full_s:.2f} per process ({args.threads} thread(s))")
    print("statistics in the full pass:", len(default_statistics()), "| proxies:", ", ".join(sorted(PROXIES)))


if __name__ == "__main__":
    main()
