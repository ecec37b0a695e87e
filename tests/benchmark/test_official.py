"""The same Benchmark over real official-format NATS-Bench files (the 3-arch sample folder)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from greenmachine.benchmark import MissingRecordError, PartialBenchmarkError, load_benchmark
from greenmachine.benchmark.official import _open_api, _read_record, load_official, recorded_archs
from greenmachine.spaces import get_space
from greenmachine.errors import DataNotFoundError, GreenmachineError
from greenmachine.paths import data_dir

FOLDERS = {s: get_space(s).official.folder for s in ("nats_tss", "nats_sss")}  # the official folders' names

OFFICIAL = data_dir() / "nats_official"
SAMPLE_ARCHS = [0, 11, 284]


@pytest.fixture(scope="module")
def official():
    return {space: load_benchmark(space, source="official", allow_partial=True) for space in FOLDERS}


@pytest.mark.parametrize(("space", "size"), [("nats_tss", 15625), ("nats_sss", 32768)])
def test_partial_official_folder_is_refused_unless_allowed(space, size):
    with pytest.raises(PartialBenchmarkError, match=rf"{FOLDERS[space]} holds 3 of {size} arch records.*allow_partial=True"):
        load_benchmark(space, source="official")
    assert recorded_archs(OFFICIAL / FOLDERS[space]) == SAMPLE_ARCHS


@pytest.mark.parametrize("space", ["nats_tss", "nats_sss"])
def test_a_missing_arch_is_named(official, space):
    bench = official[space]
    assert bench.complete_archs() == 3
    assert np.flatnonzero(np.isfinite(bench.accuracies("cifar10"))).tolist() == SAMPLE_ARCHS
    with pytest.raises(MissingRecordError, match=rf"has no record of {space} arch 12 \(.*\) for cifar10/test/"
                                                 rf"{bench.default_epochs()} \(it holds 3 of {bench.size} arch records\)"):
        bench.accuracy(12, "cifar10")


def test_official_records_hold_every_training_length(official):
    tss, sss = official["nats_tss"], official["nats_sss"]
    assert {e for _, _, e in tss.available()} == {12, 200} and {e for _, _, e in sss.available()} == {1, 12, 90}
    # cifar10 is trained on train+valid, so it has no validation accuracy
    assert ("cifar10", "valid", 200) not in tss.available() and ("cifar100", "valid", 200) in tss.available()
    with pytest.raises(GreenmachineError, match="no 'valid' accuracy for cifar10 at 90 epochs in nats_sss"):
        sss.accuracy(0, "cifar10", "valid")


@pytest.mark.parametrize("space", ["nats_tss", "nats_sss"])
def test_official_records_equal_the_compact_table_bit_for_bit(official, space):
    table = load_benchmark(space)
    assert set(table.available()) <= set(official[space].available())
    for key in table.available():
        assert table.accuracies(*key)[SAMPLE_ARCHS].tolist() == official[space].accuracies(*key)[SAMPLE_ARCHS].tolist()


def test_official_sss_records_equal_the_shared_official_sample(official):
    sss = official["nats_sss"]
    sample = pd.read_csv(data_dir() / "nats_sss" / "official_sample_3archs.csv.gz")
    assert len(sample) == 27
    for row in sample.itertuples():
        assert sss.accuracy(row.channels, row.dataset, "test", row.epochs) == pytest.approx(row.test_acc, abs=1e-6)
        # the sample's cifar10 valid column is cifar10-valid's x-valid (cifar10 itself has none)
        valid_of = "cifar10-valid" if row.dataset == "cifar10" else row.dataset
        assert sss.accuracy(row.arch_index, valid_of, "valid", row.epochs) == pytest.approx(row.valid_acc, abs=1e-6)


def test_semantics_of_each_dataset_follow_get_more_info(official):
    tss = official["nats_tss"]
    # values read with nats_bench 1.8 get_more_info(11, dataset, hp, is_random=False)
    assert tss.accuracy(11, "cifar10", "test", 200) == 91.58333333333333
    assert tss.accuracy(11, "cifar10-valid", "valid", 200) == 87.9399999983724
    assert tss.accuracy(11, "cifar10-valid", "test", 200) == 87.64999999999999
    assert tss.accuracy(11, "cifar100", "valid", 200) == 67.45333326416016
    assert tss.accuracy(11, "ImageNet16-120", "test", 12) == 14.733333302815755


def test_reading_a_record_does_not_keep_it_in_memory():
    folder = OFFICIAL / FOLDERS["nats_tss"]
    api = _open_api("nats_tss", folder)
    assert len(list(_read_record(api, folder, 11))) == 8  # 2 training lengths x 4 datasets
    assert not api.arch2infos_dict and not api.evaluated_indexes


def test_a_folder_of_another_space_is_refused(tmp_path):
    fake = tmp_path / FOLDERS["nats_tss"]
    shutil.copytree(OFFICIAL / FOLDERS["nats_sss"], fake)
    with pytest.raises(GreenmachineError, match="meta.pickle.pbz2 lists 32768 archs, nats_tss has 15625"):
        load_official("nats_tss", tmp_path, allow_partial=True, progress=False)
    empty = tmp_path / "empty" / FOLDERS["nats_sss"]
    empty.mkdir(parents=True)
    shutil.copy(OFFICIAL / FOLDERS["nats_sss"] / "meta.pickle.pbz2", empty)
    with pytest.raises(DataNotFoundError, match="holds no arch records"):
        load_official("nats_sss", empty, allow_partial=True, progress=False)
