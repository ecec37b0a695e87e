"""The one Markdown table writer."""

import pytest

from greenmachine.markdown import markdown_table


def test_markdown_table_lines():
    text = markdown_table(["proxy", "tau"], [["nwot", "0.812"], ["params", 3]])
    assert text.split("\n") == ["| proxy | tau |", "|---|---|", "| nwot | 0.812 |", "| params | 3 |"]


def test_empty_cells_and_no_rows():
    assert markdown_table(["a", "b", "c"], [["", "x", ""]]).split("\n")[2] == "|  | x |  |"
    assert markdown_table(["a"], []) == "| a |\n|---|"


def test_pipe_in_a_cell_is_escaped():
    assert markdown_table(["formula"], [["$\\left|x\\right|$"]]).split("\n")[2] == "| $\\left\\|x\\right\\|$ |"


def test_row_of_the_wrong_length_names_it():
    with pytest.raises(ValueError, match="row 1 has 1 cells, the header 2"):
        markdown_table(["a", "b"], [[1, 2], [3]])
