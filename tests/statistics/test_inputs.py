"""Bad probes and broken networks raise one clear error; a statistic that overflowed is never a finite number."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import greenmachine as gm
from greenmachine.data.probe import Probe
from greenmachine.errors import GreenmachineError
from greenmachine.statistics import compute_statistics

PROXIES = ["meco", "synflow", "zico", "nwot", "snip"]


def _labelled(probe: Probe) -> tuple[torch.Tensor, torch.Tensor]:
    return probe.inputs, probe.targets


def test_an_empty_batch_is_refused(tiny_net, tiny_probe):
    images, labels = _labelled(tiny_probe)
    with pytest.raises(GreenmachineError, match=r"probe batch is empty \(0 images, shape \(0, 3, 6, 6\)\)"):
        gm.score(tiny_net, (images[:0], labels[:0]), PROXIES)
    with pytest.raises(GreenmachineError, match="probe batch is empty"):
        compute_statistics(tiny_net, Probe(images[:0], labels[:0], "cifar10", "noise", 0), ["params"])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_images_are_refused(tiny_net, tiny_probe, value):
    images, labels = _labelled(tiny_probe)
    images = images.clone()
    images[2, 1, 3, 4] = value
    with pytest.raises(GreenmachineError, match=r"probe images hold 1 non-finite value \(NaN or inf\)"):
        gm.score(tiny_net, (images, labels), PROXIES)


def test_non_finite_weights_are_refused_naming_the_parameter(tiny_net, tiny_probe):
    with torch.no_grad():
        tiny_net.conv2.weight[1, 2, 0, 0] = float("nan")
    with pytest.raises(GreenmachineError, match=r"network parameter 'conv2.weight' holds 1 non-finite value"):
        gm.score(tiny_net, _labelled(tiny_probe), PROXIES)


def test_non_finite_buffers_are_refused(tiny_net, tiny_probe):
    tiny_net.bn1.running_var[0] = float("inf")
    with pytest.raises(GreenmachineError, match=r"network buffer 'bn1.running_var'"):
        gm.score(tiny_net, _labelled(tiny_probe), ["meco"])


class Overflowing(nn.Module):
    """Finite weights and inputs whose activations overflow float32 after the first conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x) * 1e30 * 1e30)  # inf, then inf - inf = NaN in conv2
        return self.fc(x.mean(dim=(2, 3)))


def test_meco_of_an_overflowing_network_is_not_finite(tiny_probe):
    torch.manual_seed(0)
    stats = compute_statistics(Overflowing(), tiny_probe, ["meco", "meco_opt", "meco_layer"])
    assert not np.isfinite(stats.scalar["meco"]) and not np.isfinite(stats.scalar["meco_opt"])
    assert np.isfinite(stats.layer["meco_layer"][0]) and not np.isfinite(stats.layer["meco_layer"][1:]).any()


def test_meco_of_an_ordinary_network_is_finite_and_unchanged(tiny_net, tiny_probe):
    stats = compute_statistics(tiny_net, tiny_probe, ["meco", "meco_layer"])
    assert np.isfinite(stats.scalar["meco"]) and np.isfinite(stats.layer["meco_layer"]).all()


@pytest.mark.parametrize("proxies,message", [
    ("meco", r"proxies='meco' is a string; give a list of proxy names, e.g. proxies=\['meco'\]"),
    ([], r"proxies=\[\] names no proxy; valid: .*meco"),
])
def test_score_refuses_a_string_or_no_proxy(tiny_net, tiny_probe, proxies, message):
    with pytest.raises(GreenmachineError, match=message):
        gm.score(tiny_net, _labelled(tiny_probe), proxies)


def test_compute_statistics_refuses_a_string_of_names(tiny_net, tiny_probe):
    with pytest.raises(GreenmachineError, match=r"names='meco' is a string; give a list"):
        compute_statistics(tiny_net, tiny_probe, "meco")
