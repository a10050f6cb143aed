"""CSV downloads a spreadsheet cannot turn against the person who opens them.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula in
Excel and LibreOffice (CSV injection); such a cell gets a single quote in front, so it shows as the
text it is. Used by the auditor's export and by the citizen's own disclosure log.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from collections.abc import Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a single quote before it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def lines(header: Iterable[object], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The header, then one line per row (RFC 4180 quoting, CRLF), every cell formula-safe; one
    line at a time, so a long export streams."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(cells: Iterable[object]) -> str:
        writer.writerow([safe_cell(cell) for cell in cells])
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    yield line(header)
    for row in rows:
        yield line(row)
