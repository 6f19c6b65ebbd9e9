"""
Audit records as export files: NDJSON to verify, CSV for spreadsheets.

Both services stream an export through these encoders one record at a time,
and ``edgesync audit verify --file`` reads an NDJSON export back the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from pydantic import ValidationError

from syncproto.audit import RECORD_FIELDS, AuditRecord

CSV_COLUMNS = RECORD_FIELDS


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class AuditFileError(ValueError):
    """A line of an export file is not an audit record."""


def ndjson_line(record: AuditRecord) -> str:
    """Return one record as one line of NDJSON."""
    return record.model_dump_json() + "\n"


def csv_header() -> str:
    """Return the header line of a CSV export."""
    return csv_row(CSV_COLUMNS)


def csv_line(record: AuditRecord) -> str:
    """Return one record as one CSV line; ``detail`` is a JSON cell."""
    data = record.model_dump(mode="json")
    detail = data["detail"]
    data["detail"] = "" if detail is None else json.dumps(detail, sort_keys=True)
    return csv_row(["" if data[c] is None else str(data[c]) for c in CSV_COLUMNS])


def csv_row(cells: Iterable[str]) -> str:
    """Return one CSV line of *cells*, safe to open in a spreadsheet."""
    out = io.StringIO()
    # Cells that start like a formula are quoted with a leading apostrophe, so
    # that a reason sent by a client never runs as one in a spreadsheet. Rows
    # end in CRLF (RFC 4180), so a cell holding a bare CR is quoted as well
    # and never reads as the start of a row.
    csv.writer(out, lineterminator="\r\n").writerow(
        "'" + cell if cell[:1] in _FORMULA_STARTS else cell for cell in cells
    )
    return out.getvalue()


def read_ndjson(lines: Iterable[str]) -> Iterator[AuditRecord]:
    """Yield the records of an NDJSON export, or raise :class:`AuditFileError`."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield AuditRecord.model_validate_json(line)
        except ValidationError as exc:
            msg = f"line {number} is not an audit record: {exc.errors()[0]['msg']}"
            raise AuditFileError(msg) from exc
