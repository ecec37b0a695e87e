"""Probe batches: CIFAR pickles, ImageNet16 batches, .npz images and Gaussian noise."""

from greenmachine.data.batch import probe_batch
from greenmachine.data.probe import Probe

__all__ = ["Probe", "probe_batch"]
