"""Ground truth from the compact tables and from real official-format files, conversion and download steps."""

from __future__ import annotations

import tarfile

import numpy as np
import pandas as pd
import pytest

from greenmachine.benchmark import PartialBenchmarkError, load_benchmark
from greenmachine.benchmark.base import MissingRecordError
from greenmachine.benchmark.convert import convert_official
from greenmachine.benchmark.fetch import fetch_official, unpack
from greenmachine.benchmark.official import load_official
from greenmachine.errors import DataNotFoundError, GreenmachineError, UnknownNameError
from greenmachine.paths import data_dir

OFFICIAL = data_dir() / "nats_official"


def test_spot_checks_from_the_data_readme():
    tss = load_benchmark("nats_tss")
    c10 = tss.accuracies("cifar10")
    assert int(np.argmax(c10)) == 6111 and c10[6111] == 94.37333333333333
    assert int(np.nanargmax(tss.accuracies("cifar100"))) == 9930
    assert tss.accuracy(9930, "cifar100") == 73.51333326009114
    assert int(np.argmax(tss.accuracies("ImageNet16-120"))) == 857
    assert tss.accuracy(857, "ImageNet16-120") == 47.31111105685764
    sss = load_benchmark("nats_sss")
    assert sss.accuracy("8:8:8:8:8", "cifar10") == 79.79 and sss.accuracy("64:64:64:64:64", "cifar10") == 93.40
    assert np.mean(sss.accuracies("cifar10")) == pytest.approx(91.0854641723633, abs=1e-9)
    assert sss.default_epochs == 90 and tss.default_epochs == 200


def test_accuracy_by_string_equals_by_index():
    tss = load_benchmark("nats_tss")
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    assert tss.accuracy(arch, "cifar10-valid", "valid") == tss.accuracy(11, "cifar10-valid", "valid")


@pytest.mark.parametrize(("call", "message"), [
    (lambda b: b.accuracies("imagenet"), "unknown dataset of nats_tss 'imagenet'; valid: ImageNet16-120, cifar10"),
    (lambda b: b.accuracies("cifar10", "train"), "unknown metric 'train'; valid: test, valid"),
    (lambda b: b.accuracies("cifar10", "test", 90), "no 'test' accuracy for cifar10 at 90 epochs in nats_tss; available"),
    (lambda b: b.accuracies("cifar100", "valid", 200), "cifar100/test/200"),
    (lambda b: b.accuracy(15625, "cifar10"), "out of range for nats_tss: valid 0..15624"),
])
def test_bad_queries_name_the_value_and_what_is_valid(call, message):
    with pytest.raises(GreenmachineError) as err:
        call(load_benchmark("nats_tss"))
    assert message in str(err.value)


def test_unknown_space_and_source_and_missing_data(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown space 'nats_xyz'"):
        load_benchmark("nats_xyz")
    with pytest.raises(UnknownNameError, match="unknown benchmark source 'csv'; valid: official, table"):
        load_benchmark("nats_tss", source="csv")
    with pytest.raises(DataNotFoundError, match="greenmachine fetch"):
        load_benchmark("nats_tss", data_dir=tmp_path)
    with pytest.raises(DataNotFoundError, match="looked in: .*does-not-exist"):
        load_benchmark("nats_tss", data_dir=tmp_path / "does-not-exist")


@pytest.mark.parametrize("space", ["nats_tss", "nats_sss"])
def test_partial_official_folder_is_refused_unless_allowed(space):
    with pytest.raises(PartialBenchmarkError, match=r"holds 3 of (15625|32768) arch records"):
        load_official(space, OFFICIAL, progress=False)
    bench = load_official(space, OFFICIAL, allow_partial=True, progress=False)
    with pytest.raises(MissingRecordError, match="has no record of .* arch 12"):
        bench.accuracy(12, "cifar10")


def test_official_tss_records_equal_the_compact_table():
    official = load_official("nats_tss", OFFICIAL, allow_partial=True, progress=False)
    table = load_benchmark("nats_tss")
    for arch in (0, 11, 284):
        for dataset, metric in (("cifar10", "test"), ("cifar100", "test"), ("ImageNet16-120", "test"),
                                ("cifar10-valid", "valid"), ("cifar10-valid", "test")):
            assert official.accuracy(arch, dataset, metric, 200) == pytest.approx(table.accuracy(arch, dataset, metric, 200))
        assert official.accuracy(arch, "cifar100", "valid", 12) == pytest.approx(table.accuracy(arch, "cifar100", "valid", 12))


def test_official_sss_records_equal_the_shared_official_sample_and_the_table():
    official = load_official("nats_sss", OFFICIAL, allow_partial=True, progress=False)
    table = load_benchmark("nats_sss")
    sample = pd.read_csv(data_dir() / "nats_sss" / "official_sample_3archs.csv.gz")
    for row in sample.itertuples():
        assert official.accuracy(row.arch_index, row.dataset, "test", row.epochs) == pytest.approx(row.test_acc)
        if not np.isnan(row.valid_acc):  # cifar10's valid column is cifar10-valid's x-valid
            valid_of = "cifar10-valid" if row.dataset == "cifar10" else row.dataset
            assert official.accuracy(row.arch_index, valid_of, "valid", row.epochs) == pytest.approx(row.valid_acc)
    for arch in (0, 11, 284):
        assert official.accuracy(arch, "cifar100") == pytest.approx(table.accuracy(arch, "cifar100"))


def test_convert_writes_a_table_that_loads_back_with_the_same_values(tmp_path):
    path = convert_official("nats_tss", OFFICIAL, tmp_path, allow_partial=True, progress=False)
    assert path == tmp_path / "nats_tss" / "accuracies_long.csv.gz"
    assert list(pd.read_csv(path).columns) == ["space", "arch_index", "arch", "dataset", "epochs", "test_acc",
                                               "valid_acc", "source"]
    converted = load_benchmark("nats_tss", data_dir=tmp_path)
    official = load_official("nats_tss", OFFICIAL, allow_partial=True, progress=False)
    for key, values in official.values.items():
        np.testing.assert_array_equal(converted.values[key], values)
    with pytest.raises(PartialBenchmarkError):
        convert_official("nats_tss", OFFICIAL, tmp_path / "again", progress=False)


def test_unpack_an_official_archive_then_fetch_converts_without_downloading(tmp_path):
    archive = tmp_path / "NATS-sss-v1_0-50262-simple.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(OFFICIAL / "NATS-sss-v1_0-50262-simple", arcname="NATS-sss-v1_0-50262-simple")
    folder = unpack(archive, tmp_path / "unpacked", "nats_sss")
    assert (folder / "000284.pickle.pbz2").is_file()
    with pytest.raises(DataNotFoundError, match="does not hold NATS-tss-v1_0-3ffb9-simple"):
        unpack(archive, tmp_path / "wrong", "nats_tss")
    # fetch finds the archive already downloaded; the sample is partial, so conversion refuses it
    with pytest.raises(PartialBenchmarkError, match="holds 3 of 32768"):
        fetch_official("nats_sss", tmp_path, tmp_path / "data")


def test_a_failed_download_says_what_to_download_by_hand(tmp_path, monkeypatch):
    from greenmachine.benchmark import fetch

    def offline(url, path):
        raise OSError("network unreachable")

    monkeypatch.setattr(fetch, "download", offline)
    with pytest.raises(DataNotFoundError, match=r"Download it by hand from .*NATS-Bench.*put it at .*NATS-tss-v1_0-3ffb9-simple.tar"):
        fetch_official("nats_tss", tmp_path, tmp_path / "data")
