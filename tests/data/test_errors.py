"""Every bad input raises one greenmachine error that names the bad value and what is valid."""

from __future__ import annotations

import os
import pickle
import re

import numpy as np
import pytest

from greenmachine.data import probe_batch
from greenmachine.data.sources import ProbeSourceError
from greenmachine.errors import DataNotFoundError, GreenmachineError, UnknownNameError

FIRST20 = "cifar10_test_first20_png.npz"


def raises(error: type[Exception], *fragments: str):
    """Return a pytest.raises context for `error` whose message holds every fragment."""
    return pytest.raises(error, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


def test_every_error_is_a_greenmachine_error():
    assert issubclass(ProbeSourceError, GreenmachineError) and issubclass(DataNotFoundError, GreenmachineError)


def test_unknown_dataset():
    with raises(UnknownNameError, "'cifar11'", "ImageNet16-120, cifar10, cifar10-valid, cifar100"):
        probe_batch("cifar11", "noise")


def test_unknown_split():
    with raises(UnknownNameError, "split 'val'", "test, train"):
        probe_batch("cifar10", "noise", split="val")


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_batch_size_below_one_or_not_an_integer(batch_size):
    with raises(ProbeSourceError, f"batch_size={batch_size!r}", "integer >= 1"):
        probe_batch("cifar10", "noise", batch_size=batch_size)


def test_negative_seed():
    with raises(ProbeSourceError, "seed=-1", "integer >= 0"):
        probe_batch("cifar10", "noise", seed=-1)


def test_batch_larger_than_the_npz_file(images_dir):
    with raises(ProbeSourceError, "batch_size=21", "only 20 images", "valid: 1..20", FIRST20):
        probe_batch("cifar10", str(images_dir / FIRST20), batch_size=21)


def test_batch_larger_than_the_cifar_split(cifar10_root):
    with raises(ProbeSourceError, "batch_size=7", "only 6 images", "valid: 1..6", "test_batch"):
        probe_batch("cifar10", str(cifar10_root.root), batch_size=7, split="test")


def test_unknown_source_kind():
    with raises(UnknownNameError, "'foo'", "cifar, imagenet16, noise, npz"):
        probe_batch("cifar10", "foo:/tmp")


def test_noise_takes_no_path():
    with raises(ProbeSourceError, "'noise:/tmp'", "write 'noise' alone"):
        probe_batch("cifar10", "noise:/tmp")


def test_missing_path(tmp_path):
    missing = str(tmp_path / "nowhere.npz")
    with raises(DataNotFoundError, missing, "no such file or folder", "'noise'", ".npz file", "cifar-10-batches-py"):
        probe_batch("cifar10", missing)
    with raises(DataNotFoundError, missing, "does not exist", ".npz file"):
        probe_batch("cifar10", f"npz:{missing}")


@pytest.mark.parametrize("name", ["empty", "notes.txt"])
def test_path_with_no_recognised_layout_lists_the_layouts_and_files(tmp_path, name):
    path = tmp_path / name
    if name == "empty":
        path.mkdir()
    else:
        path.write_text("hello")
    with raises(DataNotFoundError, str(path), "no recognised layout", "cifar-10-batches-py/",
                "data_batch_1..data_batch_5", "test_batch", "cifar-100-python/", "train_data_batch_1..10",
                "val_data", ".npz file"):
        probe_batch("cifar10", str(path))


def test_explicit_kind_on_a_folder_of_another_layout(cifar10_root):
    with raises(DataNotFoundError, str(cifar10_root.root), "is not an ImageNet16 folder", "train_data_batch_1..10"):
        probe_batch("ImageNet16-120", f"imagenet16:{cifar10_root.root}")


def test_imagenet16_from_a_cifar_folder(cifar10_root):
    with raises(ProbeSourceError, "'ImageNet16-120'", "cifar10, cifar10-valid, cifar100"):
        probe_batch("ImageNet16-120", str(cifar10_root.root))


def test_cifar100_from_the_cifar10_layout(cifar10_root):
    with raises(DataNotFoundError, "'cifar100'", "cifar-100-python", "holds cifar-10-batches-py",
                "valid datasets for it: cifar10, cifar10-valid"):
        probe_batch("cifar100", str(cifar10_root.root))


def test_cifar10_from_the_cifar100_layout(cifar100_root):
    with raises(DataNotFoundError, "'cifar10'", "cifar-10-batches-py", "valid datasets for it: cifar100"):
        probe_batch("cifar10", str(cifar100_root.root))


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_cifar_dataset_from_an_imagenet16_folder(imagenet16_root, dataset):
    with raises(ProbeSourceError, f"{dataset!r}", "serves ImageNet16-120 only"):
        probe_batch(dataset, str(imagenet16_root.root))


def test_missing_batch_file_is_named(cifar10_root, imagenet16_root):
    (cifar10_root.root / "cifar-10-batches-py" / "data_batch_3").unlink()
    with raises(DataNotFoundError, "lacks data_batch_3", "data_batch_1..data_batch_5"):
        probe_batch("cifar10", str(cifar10_root.root))
    (imagenet16_root.root / "val_data").unlink()
    with raises(DataNotFoundError, "lacks val_data", "test split"):
        probe_batch("ImageNet16-120", str(imagenet16_root.root), split="test")


def test_npz_labels_beyond_the_dataset_classes(images_dir):
    with raises(ProbeSourceError, "cifar100_test_first20_png.npz", "labels 0..97", "cifar10 has 10 classes", "0..9"):
        probe_batch("cifar10", str(images_dir / "cifar100_test_first20_png.npz"))


@pytest.mark.parametrize(("arrays", "fragment"), [
    ({"x": np.zeros((2, 8, 8, 3), np.uint8)}, "holds arrays x"),
    ({"x": np.zeros((2, 8, 8, 3), np.float32), "y": np.zeros(2, np.int64)}, "x is float32 [2, 8, 8, 3]"),
    ({"x": np.zeros((2, 8, 8, 3), np.uint8), "y": np.zeros(3, np.int64)}, "y is int64 [3] for 2 images"),
])
def test_npz_with_the_wrong_arrays(tmp_path, arrays, fragment):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with raises(ProbeSourceError, str(path), fragment, "x uint8 [N,H,W,3]"):
        probe_batch("cifar10", str(path))


def test_npz_that_is_not_a_zip(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip archive")
    with raises(ProbeSourceError, str(path), "not a readable .npz file"):
        probe_batch("cifar10", str(path))


class _Mkdir:
    """Unpickles to os.mkdir(target): what a hostile batch file could do."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return os.mkdir, (self.target,)


def test_batch_pickle_that_would_run_code_is_refused(cifar10_root, tmp_path):
    target = tmp_path / "created_by_pickle"
    batch = cifar10_root.root / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(pickle.dumps({"data": _Mkdir(str(target)), "labels": [0]}))
    with raises(ProbeSourceError, str(batch), "not a readable batch pickle", "mkdir"):
        probe_batch("cifar10", str(cifar10_root.root), batch_size=1, split="test")
    assert not target.exists()


@pytest.mark.parametrize(("content", "fragment"), [
    (b"\x00garbage", "not a readable batch pickle"),
    (pickle.dumps([1, 2]), "holds a list"),
    (pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "fine_labels": [0]}), "has keys data, fine_labels"),
    (pickle.dumps({"data": np.zeros((1, 768), np.uint8), "labels": [0]}), "data is uint8 [1, 768]"),
    (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), "labels is int64 [1] for 2 images"),
])
def test_malformed_batch_pickle(cifar10_root, content, fragment):
    batch = cifar10_root.root / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(content)
    with raises(ProbeSourceError, str(batch), fragment, "data uint8 [N, 3072] and labels [N]"):
        probe_batch("cifar10", str(cifar10_root.root), batch_size=1, split="test")


def test_cifar_labels_beyond_the_dataset_classes(cifar10_root):
    batch = cifar10_root.root / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [3, 10]}))
    with raises(ProbeSourceError, "labels 3..10", "cifar10 needs 0..9", "cifar-10-batches-py"):
        probe_batch("cifar10", str(cifar10_root.root), batch_size=1, split="test")


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_an_empty_or_truncated_npz_is_named(tmp_path, damage):
    path = tmp_path / "probe.npz"
    np.savez_compressed(path, x=np.zeros((4, 8, 8, 3), np.uint8), y=np.zeros(4, np.int64))
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    with raises(ProbeSourceError, str(path), "not a readable .npz file", "write it again or set probe.source"):
        probe_batch("cifar10", str(path))
