"""ledger.json: what each reply sent for each reference code, so a status is sent once, with its day.

It lives beside decisions.csv, is written whole (temporary file, rename) and only under the
folder's lock, so another program on the air-gapped machine (a "desk") can share it: take the
lock, read, write, let go. docs/formats.md, section 10b, describes it.
"""

import datetime
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from intake.formats import refcode
from intake.formats.durable import write_atomic
from intake.formats.payload import JSONObject
from intake.formats.return_bundle import STATUSES

FILE = "ledger.json"
LOCK = ".lock"
VERSION = 1


class LedgerError(ValueError):
    """A ledger that cannot be read, or a folder another program is working in."""


@dataclass(frozen=True)
class Sent:
    """The status and message last sent for a code, the day it was decided, and the bundle."""

    status: str
    message: str
    decided: str  # the day a reply first sent this status and message
    sequence: int  # the last return bundle that carried it


@dataclass
class Ledger:
    """Every code's last status sent, and every reply made from this folder."""

    codes: dict[str, Sent] = field(default_factory=dict)  # by reference code, as displayed
    replies: list[JSONObject] = field(default_factory=list)

    def last_sequence(self) -> int:
        """The largest sequence number a reply from this folder used, 0 if none."""
        return max((r["sequence"] for r in self.replies), default=0)


def _sent(value: object) -> Sent:
    if not isinstance(value, dict):
        raise TypeError("not an object")  # as Sent(**value) would: load reports the ledger damaged
    sent = Sent(**value)
    if sent.status not in STATUSES or not isinstance(sent.message, str):
        raise ValueError("status")
    datetime.date.fromisoformat(sent.decided)
    if type(sent.sequence) is not int or sent.sequence < 1:
        raise ValueError("sequence")
    return sent


def load(out: Path) -> Ledger:
    """Read the ledger, or an empty one if no reply was made from this folder yet."""
    path = Path(out) / FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return Ledger()
    except (OSError, ValueError) as e:
        raise LedgerError(f"{path} cannot be read ({type(e).__name__}); restore it from a backup") from None
    try:
        if data["version"] != VERSION:
            raise ValueError("version")
        codes = {refcode.display(refcode.normalise(code)): _sent(v) for code, v in data["codes"].items()}
        replies = [dict(r) for r in data["replies"]]
        for r in replies:
            if type(r["sequence"]) is not int:
                raise ValueError("sequence")
    except (KeyError, TypeError, ValueError, refcode.InvalidCode):
        raise LedgerError(f"{path} is damaged; restore it from a backup") from None
    return Ledger(codes, replies)


def save(out: Path, ledger: Ledger) -> None:
    """Write the ledger whole, readable by its owner alone."""
    data = {
        "version": VERSION,
        "codes": {code: asdict(sent) for code, sent in sorted(ledger.codes.items())},
        "replies": ledger.replies,
    }
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    write_atomic(Path(out) / FILE, text.encode("utf-8"), mode=0o600)


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the folder's lock while decisions or the ledger are read and written."""
    fd = os.open(Path(out) / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LedgerError(
                f"another program is working in {out} (intake-offline, or the desk); "
                "try again when it has finished"
            ) from None
        yield
    finally:
        os.close(fd)  # closing lets go of the lock
