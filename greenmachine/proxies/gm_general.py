"""gm_general: a zero-cost proxy discovered by greenmachine (larger score = predicted better).

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

Kendall tau measured by the search (search sample, its holdout, evaluation holdout):
    nats_tss/cifar10:search: 0.7981
    nats_tss/cifar10:holdout: 0.8007
    nats_tss/cifar10:evaluation: 0.7967
    nats_tss/cifar100:search: 0.7946
    nats_tss/cifar100:holdout: 0.7894
    nats_tss/cifar100:evaluation: 0.7799
    nats_tss/ImageNet16-120:search: 0.7492
    nats_tss/ImageNet16-120:holdout: 0.7467
    nats_tss/ImageNet16-120:evaluation: 0.7399
    nats_sss/cifar10:search: 0.7512
    nats_sss/cifar10:holdout: 0.7525
    nats_sss/cifar10:evaluation: 0.7490
    nats_sss/cifar100:search: 0.7257
    nats_sss/cifar100:holdout: 0.7201
    nats_sss/cifar100:evaluation: 0.7177
    nats_sss/ImageNet16-120:search: 0.8510
    nats_sss/ImageNet16-120:holdout: 0.8518
    nats_sss/ImageNet16-120:evaluation: 0.8557

Kendall tau / Spearman rho on every target's fixed random 3,000-arch evaluation holdout (never
searched), test accuracy at 200 (TSS) / 90 (SSS) epochs, lean statistics
(`python experiments/full_space.py compute --archs 3000 && python experiments/full_space.py check`):
    nats_tss/cifar10: 0.797 / 0.944
    nats_tss/cifar100: 0.780 / 0.934
    nats_tss/ImageNet16-120: 0.740 / 0.899
    nats_sss/cifar10: 0.749 / 0.914
    nats_sss/cifar100: 0.718 / 0.896
    nats_sss/ImageNet16-120: 0.856 / 0.972

Kendall tau / Spearman rho over whole spaces (every arch), same settings
(`python experiments/full_space.py compute && python experiments/full_space.py check`):
    nats_tss/cifar10 (15,625 archs): 0.800 / 0.946
    nats_tss/cifar100 (15,625 archs): 0.790 / 0.939
    nats_tss/ImageNet16-120 (15,625 archs): 0.749 / 0.906
    nats_sss/cifar10 (32,768 archs): 0.752 / 0.916
    nats_sss/cifar100 (32,768 archs): 0.722 / 0.899
    nats_sss/ImageNet16-120 (32,768 archs): 0.853 / 0.971

Cost per arch: 0.29 s on TSS, 0.22 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_general]`); no energy counter there.

Statistics read: az_expressivity, l2_norm, layer_position, merges, path_convs_min, synflow, weight_norm_layer.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_general'
EXPRESSION = 'mul(mul(mul(az_expressivity, az_expressivity), mul(square(synflow), depth_weighted_sum(mul(mul(weight_norm_layer, sub(az_expressivity, path_convs_min)), az_expressivity), mask))), depth_weighted_sum(mul(mul(safe_div(mul(weight_norm_layer, az_expressivity), l2_norm), min_layers(layer_position, mask)), depth_weighted_sum(mul(mul(mul(safe_div(mul(weight_norm_layer, az_expressivity), l2_norm), min_layers(layer_position, mask)), merges), depth_weighted_sum(weight_norm_layer, mask)), mask)), mask))'
STATISTICS = ('az_expressivity', 'l2_norm', 'layer_position', 'merges', 'path_convs_min', 'synflow', 'weight_norm_layer')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
