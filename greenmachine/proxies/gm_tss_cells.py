"""gm_tss_cells: a zero-cost proxy for NATS cells only, discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    (((0.7 - path_convs_min) + az_expressivity) * ((((((az_expressivity - path_convs_min) *
    az_expressivity) * meco_opt) * (std_l(layer_flops) * synflow)) *
    last_l(exp(entropy_change_layer))) * (((merges - path_convs_min) * az_expressivity) *
    (az_expressivity * synflow)))) * ((sqrt|(synflow * (az_expressivity * (synflow - (l2_norm /
    az_trainability))))| + flops) - path_convs_min)

Found by:
    command: greenmachine search sampling=random statistics=lean progress=false space=nats_tss also=[nats_tss/cifar100,nats_tss/ImageNet16-120] gp.population=2000 gp.generations=100 gp.fitness=min_kendall gp.seed=2
    tasks: nats_tss/cifar10,nats_tss/cifar100,nats_tss/ImageNet16-120
    sampling: random nats_tss sample of 1000 search and 1000 holdout archs from 12625 candidates (cifar10 test accuracy at 200 epochs, seed 0, 3000 evaluation archs excluded (sha256 83000cb52e3caeab))
    output: outputs/search/tss_lean_big2
    entry: proxy_10 of the run's hall of fame, the best mean Kendall tau on the search holdouts
    run_id: 9f502192453541e08895aefd281a98b0

Kendall tau measured on every target (whole spaces unless stated; * = searched, the `tasks` above;
the rest unseen): nats_tss/cifar10 0.818*, nats_tss/cifar100 0.811*, nats_tss/ImageNet16-120 0.791*,
nats_sss/cifar10 0.589, nats_sss/cifar100 0.295, nats_sss/ImageNet16-120 0.495,
nas_bench_macro/cifar10 -0.675, transnas_micro/class_scene 0.611,
transnas_micro/class_object 0.494, nasbench101/cifar10 -0.093. Every measured number,
with its table: experiments/results/shipped_proxies.csv; the transfer matrix: docs/transfer.md.

For NATS cells only (greenmachine.proxies.NATS_CELLS; shipped as `gm_tss` until issue 15): it
multiplies by `merges - path_convs_min` (NATS-cell graph counts), so it scores 0 where the two are
equal (a ResNet of two blocks) and ranks plain CNNs backwards (docs/transfer.md). Its graph-count-free
successor, searched on the same targets, is `gm_tss`.

Cost per arch: 0.36 s on TSS, 0.27 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_tss_cells]`); no energy counter there.

Statistics read: az_expressivity, az_trainability, entropy_change_layer, flops, l2_norm, layer_flops, meco_opt, merges, path_convs_min, synflow.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_tss_cells'
EXPRESSION = 'mul(mul(add(sub(const(0.7), path_convs_min), az_expressivity), mul(mul(mul(mul(mul(sub(az_expressivity, path_convs_min), az_expressivity), meco_opt), mul(std_layers(layer_flops, mask), synflow)), last_layer(safe_exp(entropy_change_layer), mask)), mul(mul(sub(merges, path_convs_min), az_expressivity), mul(az_expressivity, synflow)))), sub(add(safe_sqrt(mul(synflow, mul(az_expressivity, sub(synflow, safe_div(l2_norm, az_trainability))))), flops), path_convs_min))'
STATISTICS = ('az_expressivity', 'az_trainability', 'entropy_change_layer', 'flops', 'l2_norm', 'layer_flops', 'meco_opt', 'merges', 'path_convs_min', 'synflow')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
