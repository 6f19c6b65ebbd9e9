"""CSV cells of an export never run as spreadsheet formulas, nor break rows."""

from __future__ import annotations

import csv
import io

from edgesync.auditfile import csv_row


def test_a_bare_carriage_return_stays_inside_its_cell() -> None:
    line = csv_row(["1", "conflict.resolved", "ok\r=cmd|' /C calc'!A0"])

    assert line.endswith("\r\n")
    assert list(csv.reader(io.StringIO(line, newline=""))) == [
        ["1", "conflict.resolved", "ok\r=cmd|' /C calc'!A0"]
    ]


def test_cells_that_start_like_a_formula_are_defused() -> None:
    cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain"]

    (row,) = csv.reader(io.StringIO(csv_row(cells), newline=""))

    assert row == ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "plain"]
