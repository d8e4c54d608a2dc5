"""decisions.csv: the secretariat's decisions, one row per request, pre-filled by decrypt."""

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake.formats import refcode
from intake.formats.durable import write_atomic
from intake.formats.payload import JSONObject
from intake.formats.return_bundle import MAX_MESSAGE, STATUSES
from intake.offline import render, sheet

FILE = "decisions.csv"
COLUMNS = ("reference", "status", "message", "urgency", "received", "form", "language", "country", "item")
REQUIRED = ("reference", "status", "message", "item")  # the others are for reading, and may go


class DecisionError(ValueError):
    """A decisions file the reply cannot use; the message names the row."""


@dataclass(frozen=True)
class Decision:
    """A status (and maybe a message) for one reference code."""

    code: str
    status: str
    message: str
    row: int
    item: str


def _row(request: JSONObject) -> dict[str, str]:
    summary = render.summary_row(request)
    row = {
        "reference": request["reference"],
        "status": "",
        "message": "",
        "urgency": summary["urgency"],
        "received": summary["received"],
        "form": summary["form"],
        "language": summary["language"],
        "country": summary["country"],
        "item": request["item"],
    }
    return {column: render.defuse(value) for column, value in row.items()}


def prefill(out: Path, requests: list[JSONObject]) -> str | None:
    """Add a row for every request not yet in decisions.csv, the way the file is written.

    Rows already there are never touched. Return why the file was left alone, or None.
    """
    path = Path(out) / FILE
    try:
        found = sheet.read(path, COLUMNS, REQUIRED) if path.exists() else sheet.new(COLUMNS)
    except sheet.SheetError as e:
        return f"{e}; new requests were not added to it: correct it, then run decrypt again"
    listed = {cells["item"].strip().lower() for _, cells in found.rows}
    rows = [_row(r) for r in sorted(requests, key=render.sort_key) if r["item"] not in listed]
    if rows or not path.exists():
        sheet.append(path, found, rows)
    return None


# Russian or Arabic typed into a spreadsheet and saved as Windows-1252 (Excel's plain "CSV")
# reads as runs of accented Latin letters, or as question marks where letters were lost.
_MOJIBAKE = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]{3,}")


def _message(cell: str, number: int, encoding: str) -> str:
    # One form for the same words, however the spreadsheet saved them: NFC, and \n for breaks.
    message = unicodedata.normalize("NFC", cell.replace("\r\n", "\n").replace("\r", "\n")).strip()
    seen = [c for c in message if not c.isspace()]
    # An all-ASCII file reads as UTF-8, so the question marks are looked for in every file.
    if (encoding == "cp1252" and _MOJIBAKE.search(message)) or (seen and 2 * seen.count("?") > len(seen)):
        raise DecisionError(
            f"{FILE} row {number}: the message looks like text in another script that the "
            "spreadsheet saved as Windows-1252 and so garbled; save the file as CSV UTF-8"
        )
    return message


def read(out: Path, requests: dict[str, JSONObject]) -> tuple[list[Decision], sheet.Sheet]:
    """The rows with a status, checked against the requests decrypted (by item id).

    Raise DecisionError naming the first row that is not understood: a reply is never made
    from a file understood in part.
    """
    path = Path(out) / FILE
    if not path.exists():
        raise DecisionError(f"no {FILE} in {out}: run decrypt into that folder first")
    try:
        found = sheet.read(path, COLUMNS, REQUIRED)
    except sheet.SheetError as e:
        raise DecisionError(str(e)) from None
    by_item: dict[str, Decision] = {}
    for number, cells in found.rows:
        status = cells["status"].strip().lower()
        message = _message(cells["message"], number, found.encoding)
        if not status:
            if message:
                raise DecisionError(f"{FILE} row {number}: a message needs a status too")
            continue
        if status not in STATUSES:
            raise DecisionError(
                f"{FILE} row {number}: unknown status {status!r}; use one of {', '.join(STATUSES)}"
            )
        if len(message.encode("utf-8")) > MAX_MESSAGE:
            raise DecisionError(f"{FILE} row {number}: the message is longer than {MAX_MESSAGE} bytes")
        try:
            code = refcode.normalise(cells["reference"])
        except refcode.InvalidCode:
            raise DecisionError(f"{FILE} row {number}: the reference code is not valid") from None
        item = cells["item"].strip().lower()
        request = requests.get(item)
        if request is None:
            raise DecisionError(
                f"{FILE} row {number}: the item column does not name a request decrypted into this "
                "folder; copy it from the request's own row"
            )
        if refcode.normalise(request["reference"]) != code:
            raise DecisionError(
                f"{FILE} row {number}: the reference code and the item belong to different requests "
                "(was one column sorted on its own?)"
            )
        twin = by_item.setdefault(item, Decision(code, status, message, number, item))
        if (twin.status, twin.message) != (status, message):
            raise DecisionError(
                f"{FILE} rows {twin.row} and {number} are for the same request and decide it differently; keep one"
            )
    return list(by_item.values()), found


def clean_message(text: str) -> str:
    """A message as a reply reads it from the sheet: NFC, \\n line breaks, trimmed."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def check(status: str, message: str) -> None:
    """Refuse a decision a reply would refuse: an unknown status, a message alone, one too long."""
    if status and status not in STATUSES:
        raise DecisionError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    if message and not status:
        raise DecisionError("a message needs a status too")
    size = len(message.encode("utf-8"))
    if size > MAX_MESSAGE:
        raise DecisionError(
            f"the message is {size:,} bytes of UTF-8; at most {MAX_MESSAGE:,} fit "
            "(about 1,000 Arabic or Russian letters, 2,000 Latin ones)"
        )


def record(
    out: Path, requests: dict[str, dict[str, Any]], item: str, status: str, message: str
) -> sheet.Sheet:
    """Write a decision on the row of `item` (on every row naming it), where reply reads it.

    The caller holds the folder's lock. The file must be one a reply accepts, before and after:
    otherwise nothing is written (DecisionError). Other rows keep their cells and their order; a
    request without a row gets one at the end. Return how the file was written.
    """
    message = clean_message(message)
    check(status, message)
    path = Path(out) / FILE
    read(out, requests)  # a file a reply would refuse is not made worse
    found = sheet.read(path, COLUMNS, REQUIRED)
    rows, matched = [], False
    for _, cells in found.rows:
        if cells["item"].strip().lower() == item:
            cells, matched = {**cells, "status": status, "message": message}, True
        rows.append(cells)
    if not matched:
        rows.append({**_row(requests[item]), "status": status, "message": message})
    before = path.read_bytes()
    written = sheet.rewrite(path, found, rows)
    try:
        read(out, requests)
    except DecisionError:
        write_atomic(path, before)  # cannot happen while rewrite writes what read reads; never keep it
        raise
    return written
