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

Kendall tau measured by the search (search sample, its holdout, evaluation holdout):
    nats_sss/cifar10:search: 0.7742
    nats_sss/cifar10:holdout: 0.7583
    nats_sss/cifar10:evaluation: 0.7598
    nats_sss/cifar100:search: 0.8059
    nats_sss/cifar100:holdout: 0.7954
    nats_sss/cifar100:evaluation: 0.7913
    nats_sss/ImageNet16-120:search: 0.8754
    nats_sss/ImageNet16-120:holdout: 0.8669
    nats_sss/ImageNet16-120:evaluation: 0.8752

Kendall tau / Spearman rho on every target's fixed random 3,000-arch evaluation holdout (never
searched), test accuracy at 200 (TSS) / 90 (SSS) epochs, lean statistics
(`python experiments/full_space.py compute --archs 3000 && python experiments/full_space.py check`):
    nats_tss/cifar10: 0.550 / 0.717
    nats_tss/cifar100: 0.244 / 0.326
    nats_tss/ImageNet16-120: 0.102 / 0.135
    nats_sss/cifar10: 0.760 / 0.922
    nats_sss/cifar100: 0.791 / 0.941
    nats_sss/ImageNet16-120: 0.875 / 0.979

Kendall tau / Spearman rho over whole spaces (every arch), same settings
(`python experiments/full_space.py compute && python experiments/full_space.py check`):
    nats_tss/cifar10 (15,625 archs): 0.549 / 0.712
    nats_tss/cifar100 (15,625 archs): 0.249 / 0.330
    nats_tss/ImageNet16-120 (15,625 archs): 0.101 / 0.131
    nats_sss/cifar10 (32,768 archs): 0.764 / 0.924
    nats_sss/cifar100 (32,768 archs): 0.796 / 0.944
    nats_sss/ImageNet16-120 (32,768 archs): 0.874 / 0.978

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
