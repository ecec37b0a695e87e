"""gm_sss_cifar10: a zero-cost proxy discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    sqrt|((sum_l(l/L * (weight_norm_layer - layer_flops)) * max_l((layer_resolution /
    synflow_layer))) + first_l(((synflow_layer - weight_norm_layer)^2 * synflow_layer)))| *
    ((((max_l((synflow_layer - weight_norm_layer)) / sigmoid(sigmoid((log|sum_l(l/L *
    weight_norm_layer)| * last_l((layer_flops * synflow_layer^2)))))) * log|log|meco_opt||) +
    ((az_trainability + max_l(weight_norm_layer)) / sigmoid((l2_norm * (synflow + meco_opt)))))
    + (max_l((-meco_layer / layer_resolution)) / sigmoid(meco_opt)))

Found by:
    command: greenmachine search dataset=cifar10 sampling=stratified experiment=greenmachine_sss gp.population=2000 gp.generations=80 progress=False workers=1
    tasks: nats_sss/cifar10
    sampling: stratified nats_sss sample of 1000 search and 1000 holdout archs from 29768 candidates (cifar10 test accuracy at 90 epochs, seed 0, 3000 evaluation archs excluded (sha256 ff385e2927117fa6)); 10 equal-width accuracy bins with edges [79.79, 81.18, 82.56, 83.95, 85.33, 86.72, 88.11, 89.49, 90.88, 92.26, 93.65] holding [1, 8, 9, 45, 155, 621, 2347, 7548, 14406, 4628] candidates, n=1000 spread over the bins: search per bin [1, 8, 9, 45, 155, 157, 157, 156, 156, 156], holdout per bin [0, 0, 0, 0, 0, 200, 200, 200, 200, 200]
    output: multirun/search/greenmachine_sss_p2000/0
    entry: proxy_1 of the run's hall of fame (its best fitness on the search sample: the run's own pick)
    run_id: 1c99d9bcf9fa4a7ca23cdd01a50f737a

Kendall tau measured on every target (whole spaces unless stated; * = searched, the `tasks` above;
the rest unseen): nats_tss/cifar10 0.634, nats_tss/cifar100 0.600, nats_tss/ImageNet16-120 0.590,
nats_sss/cifar10 0.848*, nats_sss/cifar100 0.639, nats_sss/ImageNet16-120 0.797,
nas_bench_macro/cifar10 0.511, transnas_micro/class_scene 0.522,
transnas_micro/class_object 0.318, nasbench101/cifar10 0.449. Every measured number,
with its table: experiments/results/shipped_proxies.csv; the transfer matrix: docs/transfer.md.

Cost per arch: 0.36 s on TSS, 0.27 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_sss_cifar10]`); no energy counter there.

Statistics read: az_trainability, l2_norm, layer_flops, layer_resolution, meco_layer, meco_opt, synflow, synflow_layer, weight_norm_layer.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_sss_cifar10'
EXPRESSION = 'mul(safe_sqrt(add(mul(depth_weighted_sum(sub(weight_norm_layer, layer_flops), mask), max_layers(safe_div(layer_resolution, synflow_layer), mask)), first_layer(mul(square(sub(synflow_layer, weight_norm_layer)), synflow_layer), mask))), add(add(mul(safe_div(max_layers(sub(synflow_layer, weight_norm_layer), mask), sigmoid(sigmoid(mul(safe_log(depth_weighted_sum(weight_norm_layer, mask)), last_layer(mul(layer_flops, square(synflow_layer)), mask))))), safe_log(safe_log(meco_opt))), safe_div(add(az_trainability, max_layers(weight_norm_layer, mask)), sigmoid(mul(l2_norm, add(synflow, meco_opt))))), safe_div(max_layers(safe_div(neg(meco_layer), layer_resolution), mask), sigmoid(meco_opt))))'
STATISTICS = ('az_trainability', 'l2_norm', 'layer_flops', 'layer_resolution', 'meco_layer', 'meco_opt', 'synflow', 'synflow_layer', 'weight_norm_layer')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
