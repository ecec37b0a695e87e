"""Cost of the statistics pass against one bare forward+backward, and of scoring proxies together against one at a time.

Prints, over the same archs and probe, side by side in one run (each arch runs every row in turn):
seconds per arch of a bare forward+backward at the probe batch, of the full (default) statistics
pass, of every baseline computed on its own in a separate call, and of six classic proxies
(synflow, snip, grad_norm, fisher, grasp, jacov) scored two ways through `greenmachine.score`:

- together, one call for all six: each pass kind runs once for every proxy that reads it (the main
  pass for snip, grad_norm, fisher and jacov; the synflow pass; the grasp pass);
- one proxy per call, summed: each proxy runs its own passes, as the zero-cost-nas reference
  computes each measure with its own forward/backward. This is our own code, called once per
  proxy (not the reference's implementation), so it compares the sharing alone.

Then the ratios: full pass / bare, six together / (full pass + grasp pass alone) (goal <= 1.2: the six
cost no more than the full statistics pass plus grasp's own extra pass), and six one at a time / six
together (goal >= 5).

    python experiments/bench_statistics.py --archs 50 --threads 1
    python experiments/bench_statistics.py --archs 25 --threads 1 --skip-baselines   # the six-proxy ratios only
"""

from __future__ import annotations

import argparse
import statistics as pystats
import time

import torch
import torch.nn.functional as F

from greenmachine import PROXIES, build_network, compute_statistics, score, select_archs
from greenmachine.config import ProbeConfig
from greenmachine.data import make_probe
from greenmachine.proxies import proxy_statistics
from greenmachine.statistics import StatisticsOptions, default_statistics
from greenmachine.statistics.cache import init_seed

BASELINES = ["synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "zen", "zico", "meco", "meco_opt",
             "swap", "az_nas", "l2_norm", "params", "flops"]
SIX = ["synflow", "snip", "grad_norm", "fisher", "grasp", "jacov"]


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
    parser.add_argument("--skip-baselines", action="store_true", help="leave out the rows of each baseline alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    probe = make_probe(args.dataset, ProbeConfig()).to(args.device)
    options = StatisticsOptions()
    archs = select_archs(args.space, args.archs)
    rows: dict[str, list[float]] = {"bare forward+backward": [], "full statistics pass": [], "grasp pass alone": []}
    if not args.skip_baselines:
        rows.update({name: [] for name in BASELINES})
    rows["six proxies together"] = []
    rows.update({f"six one at a time: {name}": [] for name in SIX})
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    for i, arch in enumerate(archs):
        torch.manual_seed(init_seed(probe.seed, int(arch)))
        net = build_network(args.space, int(arch), args.dataset).to(args.device)
        if i == 0:  # warm up allocators and kernels once, untimed
            compute_statistics(net, probe, default_statistics(), options)
            score(net, probe, SIX, options)

        def bare():
            F.cross_entropy(net(probe.inputs), probe.targets).backward()
            net.zero_grad(set_to_none=True)
            sync()

        rows["bare forward+backward"].append(timed(bare))
        rows["full statistics pass"].append(timed(lambda: compute_statistics(net, probe, default_statistics(), options)))
        rows["grasp pass alone"].append(timed(lambda: compute_statistics(net, probe, ["grasp"], options)))
        if not args.skip_baselines:
            for name in BASELINES:
                rows[name].append(timed(lambda: compute_statistics(net, probe, proxy_statistics([name]), options)))
        rows["six proxies together"].append(timed(lambda: score(net, probe, SIX, options)))
        for name in SIX:
            rows[f"six one at a time: {name}"].append(timed(lambda: score(net, probe, [name], options)))
        print(f"\r{i + 1}/{len(archs)} archs", end="", flush=True)
    print()
    mean = {name: pystats.mean(values) for name, values in rows.items()}
    bare_s, full_s, grasp_s, six_s = (mean[k] for k in ("bare forward+backward", "full statistics pass",
                                                         "grasp pass alone", "six proxies together"))
    one_at_a_time = sum(mean[f"six one at a time: {name}"] for name in SIX)
    print(f"{args.space} {args.dataset}, {len(archs)} archs, probe batch {probe.batch_size}, device {args.device}, "
          f"{args.threads} thread(s)")
    print(f"{'what':34s} {'s/arch':>8s} {'x bare':>7s}")
    for name, value in mean.items():
        print(f"{name:34s} {value:8.3f} {value / bare_s:7.2f}")
    if not args.skip_baselines:
        one_by_one = sum(mean[name] for name in BASELINES)
        print(f"{'baselines one by one (sum)':34s} {one_by_one:8.3f} {one_by_one / bare_s:7.2f}")
        print(f"baselines one by one / full pass = {one_by_one / full_s:.2f} (target >= 4)")
    print(f"{'six one at a time (sum)':34s} {one_at_a_time:8.3f} {one_at_a_time / bare_s:7.2f}")
    print(f"full pass / bare = {full_s / bare_s:.2f} (target <= 3)")
    print(f"six together / (full pass + grasp pass) = {six_s / (full_s + grasp_s):.2f} (goal <= 1.2)")
    print(f"six one at a time / six together = {one_at_a_time / six_s:.2f} (goal >= 5)")
    print(f"archs per second, full pass: {1 / full_s:.2f} per process ({args.threads} thread(s))")
    print("statistics in the full pass:", len(default_statistics()), "| proxies:", ", ".join(sorted(PROXIES)))


if __name__ == "__main__":
    main()
