"""The benchmark datasets: class counts, input sizes and the normalisation NATS-Bench trained with."""

from __future__ import annotations

from dataclasses import dataclass

from greenmachine.registry import Registry


@dataclass(frozen=True)
class DatasetInfo:
    """What a network and a probe need to know about a dataset.

    Attributes:
        name: NATS spelling (`cifar10`, `cifar10-valid`, `cifar100`, `ImageNet16-120`).
        num_classes: logits of the classifier head.
        resolution: input height and width in pixels.
        mean, std: per-channel normalisation, on the 0..1 pixel scale (RGB).
    """

    name: str
    num_classes: int
    resolution: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


DATASETS: Registry[DatasetInfo] = Registry("dataset")

_CIFAR10_NORM = ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255))
_CIFAR100_NORM = ((129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255))
_IMAGENET16_NORM = ((122.68 / 255, 116.66 / 255, 104.01 / 255), (63.22 / 255, 61.26 / 255, 65.09 / 255))

for _info in (
    DatasetInfo("cifar10", 10, 32, *_CIFAR10_NORM),
    DatasetInfo("cifar10-valid", 10, 32, *_CIFAR10_NORM),
    DatasetInfo("cifar100", 100, 32, *_CIFAR100_NORM),
    DatasetInfo("ImageNet16-120", 120, 16, *_IMAGENET16_NORM),
):
    DATASETS.add(_info.name, _info)


def dataset_info(name: str) -> DatasetInfo:
    """Return the DatasetInfo of `name`; raises UnknownNameError listing the valid datasets.

    Datasets of other spaces (TransNAS's `class_scene`, ...) are registered with their space, so an
    unknown name first registers every space.
    """
    if name not in DATASETS:
        from greenmachine.spaces.registry import discover  # imported here: the registry imports DATASETS

        discover()
    return DATASETS[name]
