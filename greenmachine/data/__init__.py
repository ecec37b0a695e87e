"""Probe batches: CIFAR pickles, ImageNet16 batches, .npz images and Gaussian noise."""

from greenmachine.data.batch import make_probe, probe_batch, probe_source
from greenmachine.data.probe import Probe

__all__ = ["Probe", "make_probe", "probe_batch", "probe_source"]
