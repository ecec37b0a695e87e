"""gm_sss_cifar100: a zero-cost proxy discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    sum_l(l/L * sqrt|log|log|((log|weight_norm_layer| * path_convs_max) / last_l(layer_params))|||)
    - (path_convs_min - sum_l(l/L * log|(meco_layer + weight_norm_layer)|))

Found by:
    command: greenmachine search dataset=cifar100 sampling=stratified experiment=greenmachine_sss progress=False
    tasks: nats_sss/cifar100
    sampling: stratified nats_sss sample of 1000 search and 1000 holdout archs from 29768 candidates (cifar100 test accuracy at 90 epochs, seed 0, 3000 evaluation archs excluded (sha256 ff385e2927117fa6)); 10 equal-width accuracy bins with edges [32.30, 36.20, 40.11, 44.01, 47.92, 51.82, 55.72, 59.63, 63.53, 67.44, 71.34] holding [9, 39, 169, 494, 1106, 2021, 3102, 6337, 11034, 5457] candidates, n=1000 spread over the bins: search per bin [9, 39, 119, 119, 119, 119, 119, 119, 119, 119], holdout per bin [0, 0, 50, 136, 136, 136, 136, 136, 135, 135]
    output: multirun/search/greenmachine_sss/1
    entry: proxy_1 of the run's hall of fame (its best fitness on the search sample: the run's own pick)
    run_id: 8ee0f4c544a14f6a839aeac630e92f9a

Kendall tau measured by the search (search sample, its stratified holdout, evaluation holdout):
    nats_sss/cifar100:search: 0.9110
    nats_sss/cifar100:holdout: 0.9080
    nats_sss/cifar100:evaluation: 0.8559

Kendall tau / Spearman rho on every target's fixed random 3,000-arch evaluation holdout (never
searched), test accuracy at 200 (TSS) / 90 (SSS) epochs, lean statistics
(`python experiments/full_space.py compute --archs 3000 && python experiments/full_space.py check`):
    nats_tss/cifar10: 0.460 / 0.631
    nats_tss/cifar100: 0.487 / 0.672
    nats_tss/ImageNet16-120: 0.485 / 0.672
    nats_sss/cifar10: 0.438 / 0.609
    nats_sss/cifar100: 0.856 / 0.970
    nats_sss/ImageNet16-120: 0.655 / 0.844

Kendall tau / Spearman rho over whole spaces (every arch), same settings
(`python experiments/full_space.py compute && python experiments/full_space.py check`):
    nats_tss/cifar10 (15,625 archs): 0.469 / 0.641
    nats_tss/cifar100 (15,625 archs): 0.494 / 0.679
    nats_tss/ImageNet16-120 (15,625 archs): 0.491 / 0.677
    nats_sss/cifar10 (32,768 archs): 0.436 / 0.607
    nats_sss/cifar100 (32,768 archs): 0.856 / 0.969
    nats_sss/ImageNet16-120 (32,768 archs): 0.650 / 0.839

Cost per arch: 0.17 s on TSS, 0.14 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_sss_cifar100]`); no energy counter there.

Statistics read: layer_params, meco_layer, path_convs_max, path_convs_min, weight_norm_layer.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_sss_cifar100'
EXPRESSION = 'sub(depth_weighted_sum(safe_sqrt(safe_log(safe_log(safe_div(mul(safe_log(weight_norm_layer), path_convs_max), last_layer(layer_params, mask))))), mask), sub(path_convs_min, depth_weighted_sum(safe_log(add(meco_layer, weight_norm_layer)), mask)))'
STATISTICS = ('layer_params', 'meco_layer', 'path_convs_max', 'path_convs_min', 'weight_norm_layer')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
