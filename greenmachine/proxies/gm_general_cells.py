"""gm_general_cells: a zero-cost proxy for NATS cells only, discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    ((az_expressivity * az_expressivity) * (synflow^2 * sum_l(l/L * ((weight_norm_layer *
    (az_expressivity - path_convs_min)) * az_expressivity)))) * sum_l(l/L *
    ((((weight_norm_layer * az_expressivity) / l2_norm) * min_l(layer_position)) * sum_l(l/L *
    (((((weight_norm_layer * az_expressivity) / l2_norm) * min_l(layer_position)) * merges) *
    sum_l(l/L * weight_norm_layer)))))

Found by:
    command: greenmachine search gp.population=1000 gp.generations=60 sampling=random statistics=lean gp.fitness=mean_kendall progress=false space=nats_tss also=[nats_tss/cifar100,nats_tss/ImageNet16-120,nats_sss/cifar10,nats_sss/cifar100,nats_sss/ImageNet16-120]
    tasks: nats_tss/cifar10,nats_tss/cifar100,nats_tss/ImageNet16-120,nats_sss/cifar10,nats_sss/cifar100,nats_sss/ImageNet16-120
    sampling: random nats_tss sample of 1000 search and 1000 holdout archs from 12625 candidates (cifar10 test accuracy at 200 epochs, seed 0, 3000 evaluation archs excluded (sha256 83000cb52e3caeab))
    output: outputs/search/general_lean
    entry: proxy_1 of the run's hall of fame, the best mean Kendall tau on the search holdouts
    run_id: 8bd1a8d84307442a8cd31a33027e380c

Kendall tau measured on every target (whole spaces unless stated; * = searched, the `tasks` above;
the rest unseen): nats_tss/cifar10 0.800*, nats_tss/cifar100 0.790*, nats_tss/ImageNet16-120 0.749*,
nats_sss/cifar10 0.752*, nats_sss/cifar100 0.722*, nats_sss/ImageNet16-120 0.853*,
nas_bench_macro/cifar10 0.428, transnas_micro/class_scene 0.567,
transnas_micro/class_object 0.424, nasbench101/cifar10 0.389. Every measured number,
with its table: experiments/results/shipped_proxies.csv; the transfer matrix: docs/transfer.md.

For NATS cells only (greenmachine.proxies.NATS_CELLS; shipped as `gm_general` until issue 15): it
multiplies by `merges`, so it scores every network without residual additions 0 (docs/transfer.md).
Its graph-count-free successor, searched on the same targets, is `gm_transfer`.

Cost per arch: 0.29 s on TSS, 0.22 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_general_cells]`); no energy counter there.

Statistics read: az_expressivity, l2_norm, layer_position, merges, path_convs_min, synflow, weight_norm_layer.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_general_cells'
EXPRESSION = 'mul(mul(mul(az_expressivity, az_expressivity), mul(square(synflow), depth_weighted_sum(mul(mul(weight_norm_layer, sub(az_expressivity, path_convs_min)), az_expressivity), mask))), depth_weighted_sum(mul(mul(safe_div(mul(weight_norm_layer, az_expressivity), l2_norm), min_layers(layer_position, mask)), depth_weighted_sum(mul(mul(mul(safe_div(mul(weight_norm_layer, az_expressivity), l2_norm), min_layers(layer_position, mask)), merges), depth_weighted_sum(weight_norm_layer, mask)), mask)), mask))'
STATISTICS = ('az_expressivity', 'l2_norm', 'layer_position', 'merges', 'path_convs_min', 'synflow', 'weight_norm_layer')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
