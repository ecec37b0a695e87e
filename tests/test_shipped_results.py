"""The shipped proxies' results file agrees with the committed score tables, and their docstrings with the file."""

from __future__ import annotations

import re
import sys
from importlib import import_module
from pathlib import Path

import pandas as pd
import pytest

from greenmachine.proxies import DISCOVERED
from greenmachine.proxies.provenance import searched_targets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
import shipped_results  # noqa: E402  (experiments/ is not a package)

RESULTS = pd.read_csv(shipped_results.FILE)
_PAIR = re.compile(r"([\w-]+/[\w-]+) (-?\d\.\d{3})(\*?)")


def test_searched_targets_come_from_each_proxys_record():
    assert searched_targets("gm_tss_cells") == ("nats_tss/cifar10", "nats_tss/cifar100", "nats_tss/ImageNet16-120")
    assert searched_targets("gm_sss_cifar10") == ("nats_sss/cifar10",)
    assert len(searched_targets("gm_general_cells")) == 6 and searched_targets("synflow") == ()


def test_every_table_row_of_the_results_file_is_what_the_committed_tables_give():
    measured = shipped_results.table_rows()
    recorded = RESULTS[~RESULTS.source.str.startswith("search ")]
    key = ["proxy", "target", "source"]
    both = measured.merge(recorded, on=key, how="outer", suffixes=("", "_file"), indicator=True)
    assert (both._merge == "both").all(), f"rows missing on one side:\n{both[both._merge != 'both'][key + ['_merge']]}"
    for column in ("kendall", "spearman"):
        assert (both[column] - both[f"{column}_file"]).abs().max() < 1e-4, column
    assert (both.archs == both.archs_file).all() and (both.searched == both.searched_file).all()


@pytest.mark.parametrize("name", DISCOVERED)
def test_a_docstring_carries_one_line_of_results_that_the_results_file_holds(name):
    doc = import_module(f"greenmachine.proxies.{name}").__doc__
    assert "Kendall tau measured by the search" not in doc and len(doc.splitlines()) <= 40, "a long result table"
    line = doc.split("Kendall tau measured on every target")[1].split("\n\n")[0]
    pairs = _PAIR.findall(line)
    assert len(pairs) == 10
    rows = RESULTS[RESULTS.proxy == name]
    for target, tau, star in pairs:
        match = rows[(rows.target == target) & ((rows.kendall - float(tau)).abs() <= 5e-4 + 1e-9)]
        assert len(match), f"{name}: {target} {tau} is not in {shipped_results.FILE.name}"
        assert bool(star) == (target in searched_targets(name)) == bool(match.searched.iloc[0])


def test_the_transfer_matrix_reads_a_whole_space_table_before_the_partial_ones_largest_first(tmp_path):
    import transfer_matrix

    for name in ("scores_transnas_micro_500.csv.xz", "scores_transnas_micro_1000.csv.xz"):
        (tmp_path / name).touch()
    names = lambda: [p.name for p in transfer_matrix.tables_of("transnas_micro", tmp_path)]  # noqa: E731
    assert names() == ["scores_transnas_micro_1000.csv.xz", "scores_transnas_micro_500.csv.xz"]
    (tmp_path / "scores_transnas_micro.csv.xz").touch()
    assert names()[0] == "scores_transnas_micro.csv.xz" and len(names()) == 3
    with pytest.raises(FileNotFoundError, match="no scores_nasbench101"):
        transfer_matrix.tables_of("nasbench101", tmp_path)


def test_a_proxy_missing_from_the_whole_space_table_is_read_from_the_largest_partial_one():
    import transfer_matrix

    cells = {(c.proxy, c.target): c for c in transfer_matrix.transfer_cells()}
    whole = cells[("gm_tss_cells", "nats_tss/cifar10")]
    partial = cells[("gm_transfer", "nats_tss/cifar10")]
    assert whole.table == "scores_nats_tss.csv.xz" and whole.archs == 15625
    assert partial.table == "scores_nats_tss_500.csv.xz" and partial.archs == 500


def test_the_committed_transfer_matrix_marks_each_proxys_searched_targets():
    matrix = pd.read_csv(ROOT / "experiments" / "results" / "transfer_matrix.csv")
    for name in DISCOVERED:
        marked = set(matrix[(matrix.proxy == name) & matrix.searched].target)
        assert marked == set(searched_targets(name))
    assert not matrix[~matrix.proxy.isin(DISCOVERED)].searched.any()
    assert matrix[matrix.proxy == "grasp"].kendall.isna().all()  # its own pass: in no committed table
    nwot = matrix[matrix.proxy == "nwot"]  # label-based: in the 500-arch tables (--label-based) only
    assert nwot.kendall.notna().all() and (nwot.archs <= 500).all()


def test_the_same_arch_goal_table_reads_one_table_per_target_that_holds_every_baseline():
    import transfer_matrix

    goals = transfer_matrix.same_arch_goals().set_index("target")
    assert len(goals) == 10 and goals.searched.sum() == 6
    assert set(goals.table) <= {p.name for p in shipped_results.RESULTS.glob("scores_*.csv.xz")}
    macro = goals.loc["nas_bench_macro/cifar10"]
    assert macro.archs == 500 and macro.margin == pytest.approx(macro.tau - macro.baseline_tau)
