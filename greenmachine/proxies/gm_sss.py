"""gm_sss: a zero-cost proxy discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    mean_l(sqrt|log|(sqrt|layer_resolution| + layer_width)||) - (max_l((((weight_norm_layer +
    mean_l(log|layer_width|)) + ((max_l(((layer_resolution / synflow_layer) / (synflow_layer *
    mean_l(log|layer_width|)))) + params) / mean_l(layer_flops))) - log|layer_params|)) /
    synflow)

Found by:
    command: greenmachine search gp.population=1000 gp.generations=60 sampling=random statistics=lean gp.fitness=mean_kendall progress=false space=nats_sss also=[nats_sss/cifar100,nats_sss/ImageNet16-120]
    tasks: nats_sss/cifar10,nats_sss/cifar100,nats_sss/ImageNet16-120
    sampling: random nats_sss sample of 1000 search and 1000 holdout archs from 29768 candidates (cifar10 test accuracy at 90 epochs, seed 0, 3000 evaluation archs excluded (sha256 ff385e2927117fa6))
    output: outputs/search/sss_lean_all
    entry: proxy_1 of the run's hall of fame, the best mean Kendall tau on the search holdouts
    run_id: 5eaeccf533ab4bb4887bb6a7b948da08

Kendall tau measured on every target (whole spaces unless stated; * = searched, the `tasks` above;
the rest unseen): nats_tss/cifar10 0.549, nats_tss/cifar100 0.249, nats_tss/ImageNet16-120 0.101,
nats_sss/cifar10 0.763*, nats_sss/cifar100 0.796*, nats_sss/ImageNet16-120 0.874*,
nas_bench_macro/cifar10 0.433, transnas_micro/class_scene 0.371,
transnas_micro/class_object 0.172, nasbench101/cifar10 0.380. Every measured number,
with its table: experiments/results/shipped_proxies.csv; the transfer matrix: docs/transfer.md.

Cost per arch: 0.15 s on TSS, 0.13 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_sss]`); no energy counter there.

Statistics read: layer_flops, layer_params, layer_resolution, layer_width, params, synflow, synflow_layer, weight_norm_layer.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_sss'
EXPRESSION = 'sub(mean_layers(safe_sqrt(safe_log(add(safe_sqrt(layer_resolution), layer_width))), mask), safe_div(max_layers(sub(add(add(weight_norm_layer, mean_layers(safe_log(layer_width), mask)), safe_div(add(max_layers(safe_div(safe_div(layer_resolution, synflow_layer), mul(synflow_layer, mean_layers(safe_log(layer_width), mask))), mask), params), mean_layers(layer_flops, mask))), safe_log(layer_params)), mask), synflow))'
STATISTICS = ('layer_flops', 'layer_params', 'layer_resolution', 'layer_width', 'params', 'synflow', 'synflow_layer', 'weight_norm_layer')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
