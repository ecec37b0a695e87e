"""Markdown tables: the one writer behind every table greenmachine and its experiment scripts print or write."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """Return a GitHub-flavoured Markdown table: the header line, the `|---|` rule, one line per row; no final newline.

    Each cell is written as `str(cell)` between `| ` and ` |`; a `|` inside a cell is escaped as `\\|`
    so that it cannot split the cell. Raises ValueError when a row's length differs from the header's.
    """
    lines = [_line(header), "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"markdown_table: row {i} has {len(row)} cells, the header {len(header)}: {list(row)!r}")
        lines.append(_line(row))
    return "\n".join(lines)


def _line(cells: Sequence[object]) -> str:
    """Return one table line: the cells, `|` escaped, between pipes."""
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
