"""Each probe source against an independent reconstruction of what it must return."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from greenmachine.data import Probe, probe_batch
from greenmachine.data import probe as probe_module
from greenmachine.datasets import dataset_info

CIFAR10_FIRST20 = "cifar10_test_first20_png.npz"


def pool(batches: list[dict[str, object]], label_key: str, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the images uint8 [N, 3, side, side] and labels [N] of batches, concatenated in file order."""
    images = np.concatenate([np.asarray(b["data"]).reshape(-1, 3, side, side) for b in batches])
    return images, np.concatenate([np.asarray(b[label_key], dtype=np.int64) for b in batches])


def normalised(images: np.ndarray, dataset: str) -> torch.Tensor:
    """Return (x/255 - mean)/std of uint8 [N, 3, H, W] images, computed in float64."""
    info = dataset_info(dataset)
    mean = np.array(info.mean).reshape(1, 3, 1, 1)
    std = np.array(info.std).reshape(1, 3, 1, 1)
    return torch.from_numpy((images / 255.0 - mean) / std)


def assert_probe_is(probe: Probe, images: np.ndarray, labels: np.ndarray, dataset: str, batch_size: int,
                    seed: int) -> None:
    """Assert that `probe` is the draw default_rng(seed).choice(N, B, replace=False) of the pool, normalised."""
    index = np.random.default_rng(seed).choice(len(labels), size=batch_size, replace=False)
    assert probe.inputs.dtype == torch.float32 and probe.targets.dtype == torch.int64
    torch.testing.assert_close(probe.inputs.double(), normalised(images[index], dataset), rtol=0, atol=1e-5)
    assert probe.targets.tolist() == labels[index].tolist()


def test_exports_the_probe_dataclass():
    assert Probe is probe_module.Probe


@pytest.mark.parametrize(("dataset", "side", "classes"),
                         [("cifar10", 32, 10), ("cifar10-valid", 32, 10), ("cifar100", 32, 100),
                          ("ImageNet16-120", 16, 120)])
def test_noise_has_the_dataset_shape_and_is_the_seeded_generator_draw(dataset, side, classes):
    probe = probe_batch(dataset, "noise", batch_size=256, seed=7)
    generator = torch.Generator().manual_seed(7)
    assert torch.equal(probe.inputs, torch.randn(256, 3, side, side, generator=generator))
    assert torch.equal(probe.targets, torch.randint(classes, (256,), generator=generator))
    assert probe.targets.dtype == torch.int64 and 0 <= probe.targets.min() and probe.targets.max() < classes
    assert (probe.dataset, probe.source, probe.seed, probe.batch_size) == (dataset, "noise", 7, 256)


def test_npz_known_pixel_maps_to_the_normalised_value(images_dir):
    # Image 0 of the CIFAR-10 test set has RGB (167, 115, 41) at row 5, column 7 (label 3, cat).
    probe = probe_batch("cifar10", str(images_dir / CIFAR10_FIRST20), batch_size=20, seed=0)
    slot = int(np.flatnonzero(np.random.default_rng(0).choice(20, size=20, replace=False) == 0)[0])
    expected = [(167 - 125.3) / 63.0, (115 - 123.0) / 62.1, (41 - 113.9) / 66.7]
    torch.testing.assert_close(probe.inputs[slot, :, 5, 7].double(), torch.tensor(expected, dtype=torch.float64),
                               rtol=0, atol=1e-5)
    assert probe.targets[slot] == 3


def test_npz_draws_without_replacement_from_the_file(images_dir):
    path = images_dir / CIFAR10_FIRST20
    with np.load(path) as arrays:
        images, labels = arrays["x"].transpose(0, 3, 1, 2), arrays["y"]
    probe = probe_batch("cifar10", str(path), batch_size=12, seed=3)
    assert_probe_is(probe, images, labels, "cifar10", 12, 3)
    assert probe.source == "npz" and str(path.resolve()) in probe.origin and "resized" not in probe.origin
    assert probe_batch("cifar10", f"npz:{path}", batch_size=12, seed=3).digest() == probe.digest()


def test_npz_images_are_resized_to_imagenet16_with_an_antialiased_bilinear_filter(images_dir):
    path = images_dir / CIFAR10_FIRST20
    with np.load(path) as arrays:
        x = arrays["x"].transpose(0, 3, 1, 2).astype(np.float64) / 255
    probe = probe_batch("ImageNet16-120", str(path), batch_size=4, seed=1)
    assert probe.inputs.shape == (4, 3, 16, 16)
    assert "resized 32x32 -> 16x16 (antialiased bilinear)" in probe.origin
    # Halving with an antialiased triangle filter weighs input rows and columns 2i-1..2i+2 by (1, 3, 3, 1) / 8.
    info = dataset_info("ImageNet16-120")
    image = x[np.random.default_rng(1).choice(20, size=4, replace=False)[2]]
    kernel = np.array([1, 3, 3, 1]) / 8
    for row, col in [(1, 1), (7, 10), (14, 3)]:
        window = image[:, 2 * row - 1:2 * row + 3, 2 * col - 1:2 * col + 3]
        pixel = np.einsum("i,j,cij->c", kernel, kernel, window)
        expected = (pixel - np.array(info.mean)) / np.array(info.std)
        np.testing.assert_allclose(probe.inputs[2, :, row, col].numpy(), expected, rtol=0, atol=1e-5)


def test_cifar10_train_reads_the_five_batches_in_order(cifar10_root):
    batches = [cifar10_root.batches[f"data_batch_{i}"] for i in range(1, 6)]
    images, labels = pool(batches, "labels", 32)
    probe = probe_batch("cifar10", str(cifar10_root.root), batch_size=15, seed=4)
    assert_probe_is(probe, images, labels, "cifar10", 15, 4)
    assert probe.source == "cifar"
    assert "cifar-10-batches-py/data_batch_1..data_batch_5 (train, 20 images)" in probe.origin


def test_cifar_rows_are_channel_major(cifar10_root):
    data = np.asarray(cifar10_root.batches["test_batch"]["data"])
    probe = probe_batch("cifar10", f"cifar:{cifar10_root.root}", batch_size=6, seed=0, split="test")
    slot = int(np.flatnonzero(np.random.default_rng(0).choice(6, size=6, replace=False) == 2)[0])
    channel, row, col = 1, 2, 3
    value = data[2, channel * 1024 + row * 32 + col]
    assert probe.inputs[slot, channel, row, col].item() == pytest.approx((value - 123.0) / 62.1, abs=1e-5)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar10-valid"])
def test_cifar10_test_split_reads_test_batch(cifar10_root, dataset):
    images, labels = pool([cifar10_root.batches["test_batch"]], "labels", 32)
    probe = probe_batch(dataset, str(cifar10_root.root), batch_size=6, seed=2, split="test")
    assert_probe_is(probe, images, labels, dataset, 6, 2)
    assert probe.dataset == dataset and "test_batch (test, 6 images)" in probe.origin


@pytest.mark.parametrize("split", ["train", "test"])
def test_cifar100_reads_fine_labels(cifar100_root, split):
    images, labels = pool([cifar100_root.batches[split]], "fine_labels", 32)
    probe = probe_batch("cifar100", str(cifar100_root.root), batch_size=5, seed=9, split=split)
    assert_probe_is(probe, images, labels, "cifar100", 5, 9)
    assert f"cifar-100-python/{split} ({split}" in probe.origin


def test_a_root_with_both_cifar_archives_serves_each_dataset(cifar10_root, cifar100_root):
    (cifar10_root.root / "cifar-100-python").symlink_to(cifar100_root.root / "cifar-100-python")
    assert probe_batch("cifar100", str(cifar10_root.root), batch_size=3).inputs.shape == (3, 3, 32, 32)
    assert probe_batch("cifar10", str(cifar10_root.root), batch_size=3).targets.max() < 10


@pytest.mark.parametrize(("split", "files"), [("train", [f"train_data_batch_{i}" for i in range(1, 11)]),
                                              ("test", ["val_data"])])
def test_imagenet16_keeps_labels_1_to_120_as_0_to_119(imagenet16_root, split, files):
    images, labels = pool([imagenet16_root.batches[name] for name in files], "labels", 16)
    kept = (labels >= 1) & (labels <= 120)
    images, labels = images[kept], labels[kept] - 1
    probe = probe_batch("ImageNet16-120", str(imagenet16_root.root), batch_size=len(labels), seed=5, split=split)
    assert_probe_is(probe, images, labels, "ImageNet16-120", len(labels), 5)
    assert probe.inputs.shape == (len(labels), 3, 16, 16) and probe.source == "imagenet16"
    assert set(probe.targets.tolist()) <= {0, 1, 59, 118, 119}
    assert f"({split}, {len(labels)} images with labels 1..120 mapped to 0..119)" in probe.origin


@pytest.mark.parametrize("kind", ["noise", "npz", "cifar", "imagenet16"])
def test_probes_are_bit_identical_per_seed_and_differ_across_seeds(kind, images_dir, cifar10_root, imagenet16_root):
    dataset, source = {
        "noise": ("cifar100", "noise"),
        "npz": ("cifar10", str(images_dir / "cifar10_test_500_jpeg.npz")),
        "cifar": ("cifar10", str(cifar10_root.root)),
        "imagenet16": ("ImageNet16-120", str(imagenet16_root.root)),
    }[kind]
    first, again = (probe_batch(dataset, source, batch_size=8, seed=11) for _ in range(2))
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert first.digest() == again.digest() and first.origin == again.origin
    other = probe_batch(dataset, source, batch_size=8, seed=12)
    assert not torch.equal(first.inputs, other.inputs)
