"""Ground truth from the compact tables: spot checks, the query API, its errors, and table validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greenmachine.benchmark import PartialBenchmarkError, load_benchmark
from greenmachine.benchmark.table import COLUMNS, write_table
from greenmachine.errors import DataNotFoundError, GreenmachineError, UnknownNameError
from greenmachine.paths import data_dir
from greenmachine.spaces import get_space

TSS_AVAILABLE = [("ImageNet16-120", "test", 12), ("ImageNet16-120", "test", 200), ("ImageNet16-120", "valid", 12),
                 ("cifar10", "test", 12), ("cifar10", "test", 200), ("cifar10-valid", "test", 200),
                 ("cifar10-valid", "valid", 12), ("cifar10-valid", "valid", 200), ("cifar100", "test", 12),
                 ("cifar100", "test", 200), ("cifar100", "valid", 12)]
SSS_AVAILABLE = [("ImageNet16-120", "test", 90), ("cifar10", "test", 90), ("cifar10-valid", "valid", 90),
                 ("cifar100", "test", 90)]


def test_spot_checks_from_the_data_readme():
    tss = load_benchmark("nats_tss")
    c10 = tss.accuracies("cifar10")
    assert int(np.argmax(c10)) == 6111 and c10[6111] == 94.37333333333333
    assert int(np.nanargmax(tss.accuracies("cifar100"))) == 9930
    assert tss.accuracy(9930, "cifar100") == 73.51333326009114
    assert int(np.argmax(tss.accuracies("ImageNet16-120"))) == 857
    assert tss.accuracy(857, "ImageNet16-120") == 47.31111105685764
    sss = load_benchmark("nats_sss")
    sss_c10 = sss.accuracies("cifar10")
    assert sss.accuracy("8:8:8:8:8", "cifar10") == 79.79 == sss_c10.min()
    assert sss.accuracy("64:64:64:64:64", "cifar10") == 93.40
    assert get_space("nats_sss").arch_string(int(np.argmax(sss_c10))) == "64:64:56:64:24" and sss_c10.max() == 93.65
    assert np.mean(sss_c10) == pytest.approx(91.0854641723633, abs=1e-9)
    assert sss.default_epochs() == 90 and tss.default_epochs() == 200


def test_available_records_match_the_data_readme():
    tss, sss = load_benchmark("nats_tss"), load_benchmark("nats_sss")
    assert tss.available() == TSS_AVAILABLE and sss.available() == SSS_AVAILABLE
    assert (tss.space, tss.size, sss.space, sss.size) == ("nats_tss", 15625, "nats_sss", 32768)
    for bench in (tss, sss):
        assert bench.complete_archs() == bench.size
        for key in bench.available():
            values = bench.accuracies(*key)
            assert values.dtype == np.float64 and values.shape == (bench.size,) and np.isfinite(values).all()


def test_accuracies_are_cached_per_process_and_read_only():
    first, second = load_benchmark("nats_tss"), load_benchmark("nats_tss")
    assert first.accuracies("cifar10") is second.accuracies("cifar10")
    with pytest.raises(ValueError, match="read-only"):
        first.accuracies("cifar10")[0] = 0.0
    with pytest.raises(TypeError):
        first.values[("cifar10", "test", 1)] = np.zeros(15625)


def test_accuracy_by_string_equals_by_index_and_defaults():
    tss = load_benchmark("nats_tss")
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    assert tss.accuracy(arch, "cifar10-valid", "valid") == tss.accuracy(11, "cifar10-valid", "valid")
    assert tss.accuracy(11, "cifar10") == tss.accuracy(11, "cifar10", "test", 200) == tss.accuracies("cifar10")[11]
    assert tss.accuracy(11, "cifar10", epochs=np.int64(12)) == tss.accuracies("cifar10", "test", 12)[11]


@pytest.mark.parametrize(("call", "message"), [
    (lambda b: b.accuracies("imagenet"),
     "unknown dataset of nats_tss 'imagenet'; valid: ImageNet16-120, cifar10, cifar10-valid, cifar100"),
    (lambda b: b.accuracies("cifar10", "train"), "unknown metric 'train'; valid: test, valid"),
    (lambda b: b.accuracies("cifar10", "test", 90), "no 'test' accuracy for cifar10 at 90 epochs in nats_tss; available"),
    (lambda b: b.accuracies("cifar100", "valid", 200),
     "no 'valid' accuracy for cifar100 at 200 epochs in nats_tss; available (dataset/metric/epochs): "
     "ImageNet16-120/test/12, ImageNet16-120/test/200"),
    (lambda b: b.accuracies("cifar10", "test", "200"), "unknown epochs of nats_tss '200'; valid: 12, 200"),
    (lambda b: b.accuracy(15625, "cifar10"), "arch index 15625 is out of range for nats_tss: valid 0..15624"),
    (lambda b: b.accuracy("|bogus~0|", "cifar10"), "unknown operation 'bogus'"),
])
def test_bad_queries_name_the_value_and_what_is_valid(call, message):
    with pytest.raises(GreenmachineError) as err:
        call(load_benchmark("nats_tss"))
    assert message in str(err.value)


def test_sss_errors_list_its_own_records():
    with pytest.raises(GreenmachineError, match=r"no 'test' accuracy for cifar10 at 200 epochs in nats_sss; "
                                                r"available \(dataset/metric/epochs\): ImageNet16-120/test/90, "
                                                r"cifar10/test/90, cifar10-valid/valid/90, cifar100/test/90"):
        load_benchmark("nats_sss").accuracy(0, "cifar10", epochs=200)


def test_unknown_space_and_source_and_missing_data(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown space 'nats_xyz'; valid: .*nats_sss, nats_tss"):
        load_benchmark("nats_xyz")
    with pytest.raises(UnknownNameError, match="unknown benchmark source 'csv'; valid: official, table"):
        load_benchmark("nats_tss", source="csv")
    with pytest.raises(DataNotFoundError) as err:
        load_benchmark("nats_tss", data_dir=tmp_path)
    assert str(tmp_path / "nats_tss" / "accuracies_long.csv.gz") in str(err.value)
    assert "greenmachine convert" in str(err.value) and "greenmachine fetch" in str(err.value)
    with pytest.raises(DataNotFoundError, match="looked in: .*does-not-exist"):
        load_benchmark("nats_tss", data_dir=tmp_path / "does-not-exist")
    with pytest.raises(DataNotFoundError, match="no official NATS-Bench nats_tss files at .*NATS-tss-v1_0-3ffb9-simple"):
        load_benchmark("nats_tss", source="official", data_dir=tmp_path)


def _rows(space: str, archs, dataset="cifar10", epochs=200) -> pd.DataFrame:
    strings = [get_space(space).arch_string(a) for a in archs]
    return pd.DataFrame({"space": space, "arch_index": list(archs), "arch": strings, "dataset": dataset,
                         "epochs": epochs, "test_acc": [50.0 + a for a in archs], "valid_acc": np.nan,
                         "source": "synthetic"}, columns=list(COLUMNS))


def test_a_partial_table_is_refused_unless_allowed(tmp_path):
    write_table(_rows("nats_tss", [3, 5]), tmp_path / "nats_tss" / "accuracies_long.csv.gz")
    with pytest.raises(PartialBenchmarkError, match="holds 2 of 15625 arch records of nats_tss.*allow_partial=True"):
        load_benchmark("nats_tss", data_dir=tmp_path)
    bench = load_benchmark("nats_tss", data_dir=tmp_path, allow_partial=True)
    assert bench.available() == [("cifar10", "test", 200)] and bench.accuracy(5, "cifar10") == 55.0
    assert np.isnan(bench.accuracies("cifar10")[4])
    with pytest.raises(GreenmachineError, match=r"has no record of nats_tss arch 4 \(.*\) for cifar10/test/200 "
                                                r"\(it holds 2 of 15625 arch records\)"):
        bench.accuracy(4, "cifar10")


def _corrupt(tmp_path, frame: pd.DataFrame, space: str = "nats_tss") -> str:
    path = tmp_path / space / "accuracies_long.csv.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    with pytest.raises(GreenmachineError) as err:
        load_benchmark(space, data_dir=tmp_path, allow_partial=True)
    return str(err.value)


def test_malformed_tables_are_refused_with_the_reason(tmp_path):
    good = _rows("nats_tss", [0, 1, 2])
    assert "its columns are" in _corrupt(tmp_path / "a", good.drop(columns="source"))
    assert "its space column holds ['nats_sss']" in _corrupt(tmp_path / "b", good.assign(space="nats_sss"))
    assert "arch_index must lie in 0..15624" in _corrupt(tmp_path / "c", good.assign(arch_index=[0, 1, 15625]))
    wrong = good.assign(arch=good.arch[::-1].to_list())
    assert "2 rows name the wrong arch, e.g. arch_index 0 is" in _corrupt(tmp_path / "d", wrong)
    assert "1 duplicate rows, e.g. arch 1 cifar10 200 epochs" in _corrupt(tmp_path / "e", pd.concat([good, good[1:2]]))
    # an SSS table put where the TSS table belongs fails on its strings, not silently
    sss = _rows("nats_sss", [0, 1]).assign(space="nats_tss")
    assert "name the wrong arch" in _corrupt(tmp_path / "f", sss)


def test_write_table_is_atomic_and_checks_columns(tmp_path):
    path = write_table(_rows("nats_sss", [7]), tmp_path / "nats_sss" / "accuracies_long.csv.gz")
    assert [p.name for p in path.parent.iterdir()] == ["accuracies_long.csv.gz"]
    with pytest.raises(GreenmachineError, match="needs the columns"):
        write_table(_rows("nats_sss", [7]).drop(columns="arch"), path)
    assert pd.read_csv(path).test_acc.tolist() == [57.0]


def test_the_shared_tables_are_found_through_data_dir():
    assert (data_dir() / "nats_tss" / "accuracies_long.csv.gz").is_file()
    assert load_benchmark("nats_tss").source == str(data_dir() / "nats_tss" / "accuracies_long.csv.gz")


@pytest.mark.parametrize("damage", ["empty", "truncated", "not gzip"])
def test_an_empty_or_truncated_table_is_named_with_what_to_do(tmp_path, damage):
    from greenmachine.errors import CorruptFileError

    path = write_table(_rows("nats_tss", range(400)), tmp_path / "nats_tss" / "accuracies_long.csv.gz")
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "not gzip": b"\x1f\x8b garbage"}[damage])
    with pytest.raises(CorruptFileError, match=rf"{path} is corrupt \(.*\); rebuild it with `greenmachine convert`"):
        load_benchmark("nats_tss", data_dir=tmp_path, allow_partial=True)
