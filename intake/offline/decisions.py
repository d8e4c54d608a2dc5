"""decisions.csv: the secretariat's decisions, one row per request, pre-filled by decrypt."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .. import refcode
from ..fsutil import write_atomic
from ..returns import MAX_MESSAGE
from ..status import STATUSES
from . import render

FILE = "decisions.csv"
COLUMNS = ("reference", "status", "message", "urgency", "received", "form", "language", "country", "item")


class DecisionError(ValueError):
    """A decisions file the reply cannot use; the message names the row."""


@dataclass(frozen=True)
class Decision:
    """A status (and maybe a message) for one reference code."""

    code: str
    status: str
    message: str
    row: int


def _row(request: dict) -> dict:
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


def _existing(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8-sig", newline="") as f:  # spreadsheets may add a BOM
        return list(csv.DictReader(f))


def prefill(out: Path, requests: list[dict]) -> None:
    """Add a row for every request not yet in decisions.csv; never touch the rows already there."""
    path = Path(out) / FILE
    rows = _existing(path)
    listed = {row.get("item") for row in rows}
    rows += [_row(r) for r in sorted(requests, key=render.sort_key) if r["item"] not in listed]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, text.getvalue().encode("utf-8"), durable=False)


def read(out: Path) -> list[Decision]:
    """The rows with a status, checked; raise DecisionError naming the first bad row."""
    path = Path(out) / FILE
    if not path.exists():
        raise DecisionError(f"no {FILE} in {out}: run decrypt into that folder first")
    decisions: dict[str, Decision] = {}
    for number, row in enumerate(_existing(path), start=2):  # row 1 is the header
        status = (row.get("status") or "").strip()
        message = (row.get("message") or "").strip()
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
            code = refcode.normalise(row.get("reference") or "")
        except refcode.InvalidCode:
            raise DecisionError(f"{FILE} row {number}: the reference code is not valid") from None
        decision = Decision(code, status, message, number)
        earlier = decisions.get(code)
        if earlier and (earlier.status, earlier.message) != (status, message):
            raise DecisionError(
                f"{FILE} rows {earlier.row} and {number} decide the same reference code differently; keep one"
            )
        decisions[code] = decision
    return list(decisions.values())
