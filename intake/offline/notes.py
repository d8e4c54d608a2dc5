"""notes.json: the secretariat's private notes per case. They never leave the air-gapped machine.

Kept apart from decisions.csv, which people open in a spreadsheet and might pass around, and
from everything `reply` writes. Written whole, owner-only, under the folder's lock (the desk
writes them); docs/formats.md, section 10d, describes the file.
"""

import json
from pathlib import Path

from intake.formats import refcode
from intake.formats.durable import write_atomic
from intake.offline.ledger import LedgerError

FILE = "notes.json"
VERSION = 1
MAX_NOTE = 20_000  # characters: a page or two; the desk refuses more


def load(out: Path) -> dict[str, str]:
    """Every case's note, by reference code as displayed; empty when there is no file yet."""
    path = Path(out) / FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise LedgerError(f"{path} cannot be read ({type(e).__name__}); restore it from a backup") from None
    try:
        if data["version"] != VERSION:
            raise ValueError("version")
        notes = {refcode.display(refcode.normalise(code)): text for code, text in data["notes"].items()}
        if not all(isinstance(text, str) for text in notes.values()):
            raise ValueError("note")
    except (KeyError, TypeError, ValueError, AttributeError, refcode.InvalidCode):
        raise LedgerError(f"{path} is damaged; restore it from a backup") from None
    return notes


def save(out: Path, notes: dict[str, str]) -> None:
    """Write every note whole (an empty note is dropped), readable by its owner alone."""
    kept = {code: text for code, text in sorted(notes.items()) if text.strip()}
    text = json.dumps({"version": VERSION, "notes": kept}, ensure_ascii=False, indent=1) + "\n"
    write_atomic(Path(out) / FILE, text.encode("utf-8"), mode=0o600)
