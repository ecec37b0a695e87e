"""gm_sss_cifar100: a zero-cost proxy discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    sum_l(l/L * (((layer_position * (log|(layer_flops * params)| + layer_kernel)) + layer_position)
    * (layer_position * (weight_norm_layer + normalise_l(layer_position))))) + sum_l(l/L *
    (log|(weight_norm_layer - layer_position)| * ((log|((normalise_l(layer_position) -
    meco_layer) * (log|log|layer_position|| + layer_position))| + log|(exp(layer_position) *
    (weight_norm_layer * (exp(log|log|layer_position||) - layer_position)))|) + synflow_layer)))

Found by:
    command: greenmachine search dataset=cifar100 sampling=stratified experiment=greenmachine_sss gp.population=2000 gp.generations=80 progress=False workers=1
    tasks: nats_sss/cifar100
    sampling: stratified nats_sss sample of 1000 search and 1000 holdout archs from 29768 candidates (cifar100 test accuracy at 90 epochs, seed 0, 3000 evaluation archs excluded (sha256 ff385e2927117fa6)); 10 equal-width accuracy bins with edges [32.30, 36.20, 40.11, 44.01, 47.92, 51.82, 55.72, 59.63, 63.53, 67.44, 71.34] holding [9, 39, 169, 494, 1106, 2021, 3102, 6337, 11034, 5457] candidates, n=1000 spread over the bins: search per bin [9, 39, 119, 119, 119, 119, 119, 119, 119, 119], holdout per bin [0, 0, 50, 136, 136, 136, 136, 136, 135, 135]
    output: multirun/search/greenmachine_sss_p2000/1
    entry: proxy_1 of the run's hall of fame (its best fitness on the search sample: the run's own pick)
    run_id: 319b72c1eac541409208b40e1f1fa3c4

Kendall tau measured on every target (whole spaces unless stated; * = searched, the `tasks` above;
the rest unseen): nats_tss/cifar10 0.539, nats_tss/cifar100 0.538, nats_tss/ImageNet16-120 0.529,
nats_sss/cifar10 0.555, nats_sss/cifar100 0.900*, nats_sss/ImageNet16-120 0.735,
nas_bench_macro/cifar10 0.454, transnas_micro/class_scene 0.535,
transnas_micro/class_object 0.353, nasbench101/cifar10 0.479. Every measured number,
with its table: experiments/results/shipped_proxies.csv; the transfer matrix: docs/transfer.md.

Cost per arch: 0.22 s on TSS, 0.18 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_sss_cifar100]`); no energy counter there.

Statistics read: layer_flops, layer_kernel, layer_position, meco_layer, params, synflow_layer, weight_norm_layer.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_sss_cifar100'
EXPRESSION = 'add(depth_weighted_sum(mul(add(mul(layer_position, add(safe_log(mul(layer_flops, params)), layer_kernel)), layer_position), mul(layer_position, add(weight_norm_layer, normalise(layer_position, mask)))), mask), depth_weighted_sum(mul(safe_log(sub(weight_norm_layer, layer_position)), add(add(safe_log(mul(sub(normalise(layer_position, mask), meco_layer), add(safe_log(safe_log(layer_position)), layer_position))), safe_log(mul(safe_exp(layer_position), mul(weight_norm_layer, sub(safe_exp(safe_log(safe_log(layer_position))), layer_position))))), synflow_layer)), mask))'
STATISTICS = ('layer_flops', 'layer_kernel', 'layer_position', 'meco_layer', 'params', 'synflow_layer', 'weight_norm_layer')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
