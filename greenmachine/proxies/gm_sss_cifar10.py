"""gm_sss_cifar10: a zero-cost proxy discovered by greenmachine (larger score = predicted better).

Formula (sum_l, mean_l, ... reduce over a network's weighted layers, in forward order):
    log|(meco_opt * (synflow * (exp(log_paths) * max_l(synflow_layer))))| *
    ((log|sqrt|((exp(log_paths) / flops) * max_l(|layer_width|))|| + az_trainability) + synflow)

Found by:
    command: greenmachine search dataset=cifar10 sampling=stratified experiment=greenmachine_sss progress=False
    tasks: nats_sss/cifar10
    sampling: stratified nats_sss sample of 1000 search and 1000 holdout archs from 29768 candidates (cifar10 test accuracy at 90 epochs, seed 0, 3000 evaluation archs excluded (sha256 ff385e2927117fa6)); 10 equal-width accuracy bins with edges [79.79, 81.18, 82.56, 83.95, 85.33, 86.72, 88.11, 89.49, 90.88, 92.26, 93.65] holding [1, 8, 9, 45, 155, 621, 2347, 7548, 14406, 4628] candidates, n=1000 spread over the bins: search per bin [1, 8, 9, 45, 155, 157, 157, 156, 156, 156], holdout per bin [0, 0, 0, 0, 0, 200, 200, 200, 200, 200]
    output: multirun/search/greenmachine_sss/0
    entry: proxy_1 of the run's hall of fame (its best fitness on the search sample: the run's own pick)
    run_id: 25756e08fad04d59a0acd3bc846ddb74

Kendall tau measured by the search (search sample, its stratified holdout, evaluation holdout):
    nats_sss/cifar10:search: 0.8959
    nats_sss/cifar10:holdout: 0.8630
    nats_sss/cifar10:evaluation: 0.8094

Kendall tau / Spearman rho on every target's fixed random 3,000-arch evaluation holdout (never
searched), test accuracy at 200 (TSS) / 90 (SSS) epochs, lean statistics
(`python experiments/full_space.py compute --archs 3000 && python experiments/full_space.py check`):
    nats_tss/cifar10: 0.470 / 0.651
    nats_tss/cifar100: 0.457 / 0.634
    nats_tss/ImageNet16-120: 0.468 / 0.649
    nats_sss/cifar10: 0.809 / 0.951
    nats_sss/cifar100: 0.593 / 0.788
    nats_sss/ImageNet16-120: 0.771 / 0.925

Kendall tau / Spearman rho over whole spaces (every arch), same settings
(`python experiments/full_space.py compute && python experiments/full_space.py check`):
    nats_tss/cifar10 (15,625 archs): 0.484 / 0.667
    nats_tss/cifar100 (15,625 archs): 0.468 / 0.645
    nats_tss/ImageNet16-120 (15,625 archs): 0.479 / 0.660
    nats_sss/cifar10 (32,768 archs): 0.812 / 0.952
    nats_sss/cifar100 (32,768 archs): 0.598 / 0.794
    nats_sss/ImageNet16-120 (32,768 archs): 0.777 / 0.929

Cost per arch: 0.36 s on TSS, 0.27 s on SSS (cifar10, batch-64 probe): the recorded
wall time of the statistics passes it reads, one CPU thread per worker on a shared 2-core machine
(`greenmachine evaluate experiment=league space=<space> proxies=[gm_sss_cifar10]`); no energy counter there.

Statistics read: az_trainability, flops, layer_width, log_paths, meco_opt, synflow, synflow_layer.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_sss_cifar10'
EXPRESSION = 'mul(safe_log(mul(meco_opt, mul(synflow, mul(safe_exp(log_paths), max_layers(synflow_layer, mask))))), add(add(safe_log(safe_sqrt(mul(safe_div(safe_exp(log_paths), flops), max_layers(abs(layer_width), mask)))), az_trainability), synflow))'
STATISTICS = ('az_trainability', 'flops', 'layer_width', 'log_paths', 'meco_opt', 'synflow', 'synflow_layer')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
