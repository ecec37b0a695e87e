"""gm_transfer: a zero-cost proxy discovered by greenmachine for any CNN (larger score = predicted better).

Formula (sum_l reduces over a network's weighted layers, in forward order; l/L its relative depth):
    sqrt|((-0.37 + (synflow / log|l2_norm|)) * (az_expressivity + az_progressivity))| *
    (az_expressivity + sqrt|sum_l(l/L * layer_width)|)

Found by:
    command: greenmachine search experiment=transfer sampling.n=500 sampling.holdout_n=250 evaluation_size=500 gp.population=1000 gp.generations=60 workers=2
    tasks: nats_tss/cifar10,nats_tss/cifar100,nats_tss/ImageNet16-120,nats_sss/cifar10,nats_sss/cifar100,nats_sss/ImageNet16-120,nas_bench_macro/cifar10,transnas_micro/class_scene,transnas_micro/class_object,nasbench101/cifar10
    searched: nats_tss/cifar10,nats_tss/cifar100,nats_tss/ImageNet16-120,nats_sss/cifar10,nats_sss/cifar100,nats_sss/ImageNet16-120
    unseen: nas_bench_macro/cifar10,transnas_micro/class_scene,transnas_micro/class_object,nasbench101/cifar10
    sampling: random samples of 500 search and 250 holdout archs per NATS target, the first 500 archs of each space's fixed random order excluded (lean statistics; no graph counts among the terminals)
    entry: proxy_6 of the run's hall of fame, the best mean Kendall tau on the six NATS holdouts (the unseen targets took no part in the search or the pick)
    run_id: b58c96854013491aa42a293be7dd0f98

Kendall tau measured on every target (* = searched, the `searched` line above; NATS: the first 500
archs of each space's fixed random order, never searched; other spaces whole):
nats_tss/cifar10 0.750*, nats_tss/cifar100 0.741*, nats_tss/ImageNet16-120 0.695*,
nats_sss/cifar10 0.783*, nats_sss/cifar100 0.715*, nats_sss/ImageNet16-120 0.850*,
nas_bench_macro/cifar10 0.501, transnas_micro/class_scene 0.538,
transnas_micro/class_object 0.331, nasbench101/cifar10 0.460. Every measured number,
with its table: experiments/results/shipped_proxies.csv; the transfer matrix: docs/transfer.md.

Cost per arch: 0.42 s, the recorded wall time of the statistics passes it reads over its search's
NATS samples (one CPU thread per worker on a shared 2-core machine), 13 J estimated (CodeCarbon's
process model; the search's `seconds_per_arch` and `joules_per_arch`).

Reads no graph count (merges, paths), so it means the same on any CNN: plain, residual and
inverted-residual families score finitely and distinctly (tests/test_families.py).

Statistics read: az_expressivity, az_progressivity, l2_norm, layer_width, synflow.
"""

from __future__ import annotations

from greenmachine.proxies.expression import score_network
from greenmachine.statistics import StatisticsOptions

NAME = 'gm_transfer'
EXPRESSION = 'mul(safe_sqrt(mul(add(const(-0.37), safe_div(synflow, safe_log(l2_norm))), add(az_expressivity, az_progressivity))), add(az_expressivity, safe_sqrt(depth_weighted_sum(layer_width, mask))))'
STATISTICS = ('az_expressivity', 'az_progressivity', 'l2_norm', 'layer_width', 'synflow')
PROBE_SEED = 0
OPTIONS = StatisticsOptions(halves=2, zen_batch=8, zen_repeats=1, swap_batch=16, swap_repeats=32, az_batch=8, meco_channels=8)


def score(net, inputs, targets=None) -> float:
    """Return the proxy's score of the untrained network `net` on probe images `inputs` [B, C, H, W].

    `targets` (labels, int [B]) are needed only when a statistic read depends on labels.
    """
    return score_network(net, inputs, targets, EXPRESSION, STATISTICS, PROBE_SEED, OPTIONS)
