"""Official files -> compact table (conversion), and the download's offline parts: unpack, failures."""

from __future__ import annotations

import io
import tarfile
import urllib.request

import numpy as np
import pandas as pd
import pytest

from greenmachine.benchmark import PartialBenchmarkError, load_benchmark
from greenmachine.benchmark import fetch as fetch_module
from greenmachine.benchmark.convert import convert_official
from greenmachine.benchmark.fetch import archive_url, fetch_official, manual_url, unpack
from greenmachine.benchmark.official import load_official
from greenmachine.spaces import get_space
from greenmachine.benchmark.table import COLUMNS
from greenmachine.errors import DataNotFoundError, UnknownNameError
from greenmachine.paths import data_dir

FOLDERS = {s: get_space(s).official.folder for s in ("nats_tss", "nats_sss")}  # the official folders' names

OFFICIAL = data_dir() / "nats_official"


@pytest.mark.parametrize(("space", "rows"), [("nats_tss", 3 * 2 * 4), ("nats_sss", 3 * 3 * 4)])
def test_convert_writes_a_table_that_loads_back_with_the_same_values(tmp_path, space, rows):
    path = convert_official(space, OFFICIAL, tmp_path, allow_partial=True, progress=False)
    assert path == tmp_path / space / "accuracies_long.csv.gz"
    frame = pd.read_csv(path)
    assert tuple(frame.columns) == COLUMNS and len(frame) == rows and set(frame.space) == {space}
    assert sorted(set(frame.arch_index)) == [0, 11, 284]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    with pytest.raises(PartialBenchmarkError, match="holds 3 of"):
        load_benchmark(space, data_dir=tmp_path)
    converted = load_benchmark(space, data_dir=tmp_path, allow_partial=True)
    official = load_official(space, OFFICIAL, allow_partial=True, progress=False)
    assert converted.available() == official.available()
    for key in official.available():
        np.testing.assert_array_equal(converted.accuracies(*key), official.accuracies(*key))


def test_converted_values_equal_the_shared_tables_and_the_output_is_reproducible(tmp_path):
    first = convert_official("nats_sss", OFFICIAL / FOLDERS["nats_sss"], tmp_path / "a", allow_partial=True, progress=False)
    second = convert_official("nats_sss", OFFICIAL, tmp_path / "b", allow_partial=True, progress=False)
    assert first.read_bytes() == second.read_bytes()
    converted = load_benchmark("nats_sss", data_dir=tmp_path / "a", allow_partial=True)
    shared = load_benchmark("nats_sss")
    for key in shared.available():
        assert converted.accuracies(*key)[[0, 11, 284]].tolist() == shared.accuracies(*key)[[0, 11, 284]].tolist()


def test_convert_refuses_a_partial_folder_unless_allowed(tmp_path):
    with pytest.raises(PartialBenchmarkError, match="NATS-tss-v1_0-3ffb9-simple holds 3 of 15625 arch records"):
        convert_official("nats_tss", OFFICIAL, tmp_path, progress=False)
    assert not (tmp_path / "nats_tss").exists()
    with pytest.raises(DataNotFoundError, match="no official NATS-Bench nats_sss files at"):
        convert_official("nats_sss", tmp_path, tmp_path, progress=False)
    with pytest.raises(UnknownNameError, match="unknown space 'tss'; valid: .*nats_sss, nats_tss"):
        convert_official("tss", OFFICIAL, tmp_path, progress=False)


def _official_tar(tmp_path, space: str):
    archive = tmp_path / f"{FOLDERS[space]}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(OFFICIAL / FOLDERS[space], arcname=FOLDERS[space])
    return archive


def test_unpack_an_official_archive(tmp_path):
    archive = _official_tar(tmp_path, "nats_sss")
    folder = unpack(archive, tmp_path / "unpacked", "nats_sss")
    assert folder == (tmp_path / "unpacked" / FOLDERS["nats_sss"]).resolve()
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (OFFICIAL / FOLDERS["nats_sss"]).iterdir())
    with pytest.raises(DataNotFoundError, match="does not hold NATS-tss-v1_0-3ffb9-simple/meta.pickle.pbz2"):
        unpack(archive, tmp_path / "wrong", "nats_tss")
    not_tar = tmp_path / "page.tar"
    not_tar.write_text("<html>quota exceeded</html>")
    with pytest.raises(DataNotFoundError, match=r"(?s)is not a readable tar archive .* again from https://drive.google.com"):
        unpack(not_tar, tmp_path / "bad", "nats_sss")


def test_fetch_uses_an_archive_already_in_place_then_converts(tmp_path, monkeypatch):
    def no_network(url, path):
        raise AssertionError("fetch must not download an archive that is already there")

    monkeypatch.setattr(fetch_module, "download", no_network)
    _official_tar(tmp_path, "nats_sss")
    # the sample holds 3 archs, so the conversion at the end refuses it: every step before it ran
    with pytest.raises(PartialBenchmarkError, match="holds 3 of 32768"):
        fetch_official("nats_sss", tmp_path, tmp_path / "data", progress=False)
    assert (tmp_path / FOLDERS["nats_sss"] / "000284.pickle.pbz2").is_file()


def test_a_failed_download_says_what_to_download_by_hand_and_where(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataNotFoundError) as err:
        fetch_official("nats_tss", tmp_path, tmp_path / "data")
    message = str(err.value)
    assert "could not download NATS-tss-v1_0-3ffb9-simple.tar (<urlopen error network unreachable>)" in message
    assert f"Download it by hand from {manual_url('nats_tss')}" in message
    assert f"put it at {tmp_path / 'NATS-tss-v1_0-3ffb9-simple.tar'}" in message
    assert "greenmachine fetch space=nats_tss" in message
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_is_no_archive_is_refused(tmp_path, monkeypatch):
    class Page(io.BytesIO):
        headers = {"Content-Length": "27"}

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Page(b"<html>sign in first</html>"))
    with pytest.raises(DataNotFoundError, match=r"sent 26 bytes that are not a tar archive .*Download it by hand"):
        fetch_official("nats_sss", tmp_path, tmp_path / "data", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_the_urls_are_the_official_drive_files():
    assert "17_saCsj_krKjlCBLOJEpNtzPXArMCqxU" in archive_url("nats_tss")
    assert manual_url("nats_sss") == "https://drive.google.com/file/d/1scOMTUwcQhAMa_IMedp9lTzwmgqHLGgA/view"
    with pytest.raises(UnknownNameError, match="unknown space 'nats_201'"):
        archive_url("nats_201")
