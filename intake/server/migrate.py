"""`intake migrate`: a drop box of files, as releases before the database kept it, moved into it.

Every item, file and status is checked, copied in a transaction of its own and read back; only
then are its files overwritten and removed. Interrupted, it carries on where it stopped when run
again (an item already copied is recognised by its id, and copied nothing twice); over a folder
with nothing left to move, it refuses.
"""

import base64
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nacl.signing import VerifyKey

from intake.formats import return_bundle
from intake.formats.item import ITEM_SIZE
from intake.formats.return_bundle import STATUSES, ReturnError, Update
from intake.formats.stream import SEALED_CHUNK
from intake.server import importer, statuses
from intake.server.datafolder import OLD_LAYOUT, holds_files
from intake.server.store import STORED, ChunkedStream, Stale, Store, today

DROPBOX, STATUS, JOURNAL = OLD_LAYOUT
STAGING, SEQUENCE = "staging", "return-sequence"  # the rest of it
_ITEM = re.compile(r"\A([0-9a-f]{32})\.item\Z")
_ATTACHMENT = re.compile(r"\A([0-9a-f]{32})-([0-9]{1,2})\.att\Z")
_LOOKUP = re.compile(r"\A[0-9a-f]{64}\Z")


class NothingToMove(Exception):
    """The data folder holds no drop box of files (already moved, or never had one)."""


class Damaged(Exception):
    """A file of the old drop box is not what that release wrote: nothing of it was moved."""


@dataclass
class Report:
    """What one run moved."""

    items: int = 0
    files: int = 0
    statuses: int = 0
    skipped: list[str] = field(default_factory=list)  # already in the database, from an earlier run


def something_to_move(data_dir: Path) -> None:
    """Raise NothingToMove unless the data folder holds a drop box of files."""
    if not holds_files(data_dir):
        raise NothingToMove(f"{data_dir} holds no drop box of files: it was moved already, or never had one")


def migrate(data_dir: Path, store: Store, mac_key: bytes, verify_key: VerifyKey) -> Report:
    """Move the file drop box into `store`; raise NothingToMove when there is none."""
    data_dir = Path(data_dir)
    something_to_move(data_dir)
    report = Report()
    _move_sequence(data_dir, store)
    for item_path, data, attachments in _items(data_dir / DROPBOX):
        _move_item(store, item_path, data, attachments, report)
    for path in sorted((data_dir / STATUS).iterdir()) if (data_dir / STATUS).is_dir() else []:
        if _LOOKUP.match(path.name):
            store.put_status(statuses.from_update(_status(path), mac_key))
            _destroy(path)
            report.statuses += 1
    journal = data_dir / JOURNAL
    if journal.exists():  # an import the old release had begun: finished here, whole
        _finish(journal, store, mac_key, verify_key)
    for name in (DROPBOX, STATUS, STAGING):
        folder = data_dir / name
        if folder.is_dir():
            for leftover in folder.iterdir():  # staging held ciphertext of requests never accepted
                _destroy(leftover)
            folder.rmdir()
    (data_dir / SEQUENCE).unlink(missing_ok=True)
    return report


def _finish(journal: Path, store: Store, mac_key: bytes, verify_key: VerifyKey) -> None:
    """Apply the bundle an interrupted import left in its journal, unless it was applied already
    (the old release recorded its sequence number last, once everything else was done)."""
    try:
        importer.import_bundle(journal.read_bytes(), verify_key, store, mac_key)
    except ReturnError as e:
        if not isinstance(e.__cause__, Stale):
            raise Damaged(f"{journal} is not a return bundle this server can apply: {e}") from None
    _destroy(journal)


def _move_sequence(data_dir: Path, store: Store) -> None:
    path = data_dir / SEQUENCE
    if path.exists():
        sequence = int(path.read_text(encoding="ascii"))
        with store.db.transaction() as cur:
            cur.execute(
                "UPDATE counters SET value = ? WHERE name = 'sequence' AND value < ?", (sequence, sequence)
            )


def _items(folder: Path) -> Iterator[tuple[Path, bytes, list[Path]]]:
    if not folder.is_dir():
        return
    names = sorted(os.listdir(folder))
    for name in names:
        if match := _ITEM.match(name):
            files = sorted(
                (folder / n for n in names if (m := _ATTACHMENT.match(n)) and m[1] == match[1]),
                key=lambda p: int(_ATTACHMENT.match(p.name)[2]),  # type: ignore[index]
            )
            data = (folder / name).read_bytes()
            if len(data) != ITEM_SIZE:
                raise Damaged(f"{folder / name} is {len(data)} bytes, not an item's {ITEM_SIZE}")
            yield folder / name, data, files


def _move_item(store: Store, item_path: Path, data: bytes, files: list[Path], report: Report) -> None:
    """One transaction: the item (under its own id, which the secretariat's acknowledgements name),
    its files as streams of chunks, its bytes in the quota. Then read it all back, and only then
    destroy the files."""
    item_id = bytes.fromhex(item_path.name[:32])
    lengths = [path.stat().st_size for path in files]
    size = len(data) + sum(lengths)
    with store.db.transaction() as cur:
        cur.execute("SELECT data FROM items WHERE id = ?", (item_id,))
        row = cur.fetchone()
        if row is not None:  # copied by an interrupted run, perhaps killed while destroying the file
            if not _same(data, bytes(row[0])):
                raise Damaged(f"the database holds another item under the id of {item_id.hex()}")
            report.skipped.append(item_id.hex())
        else:
            cur.execute(
                "INSERT INTO items (id, data, day, size) VALUES (?, ?, ?, ?)", (item_id, data, today(), size)
            )
            for number, (path, length) in enumerate(zip(files, lengths, strict=True), start=1):
                stream_id = hashlib.blake2b(item_id + bytes([number]), digest_size=16).digest()
                cur.execute("INSERT INTO streams (id, item, number, length, staged) VALUES (?, ?, ?, ?, ?)",
                            (stream_id, item_id, number, length, today()))  # fmt: skip
                with open(path, "rb") as f:
                    n = 0
                    while piece := f.read(SEALED_CHUNK):
                        cur.execute(
                            "INSERT INTO chunks (stream, n, data) VALUES (?, ?, ?)", (stream_id, n, piece)
                        )
                        n += 1
                    if n == 0:
                        cur.execute("INSERT INTO chunks (stream, n, data) VALUES (?, 0, ?)", (stream_id, b""))
            cur.execute("UPDATE counters SET value = value + ? WHERE name = ?", (size, STORED))
    _check_copied(store, item_id, files)
    for path in files:
        _destroy(path)
        report.files += 1
    _destroy(item_path)
    report.items += 1


def _check_copied(store: Store, item_id: bytes, files: list[Path]) -> None:
    """Read every file back from the database, a chunk at a time: the files go only if they match.
    (The item itself was compared as it was copied.)"""
    with store.db.reading() as cur:
        cur.execute("SELECT id, number, length FROM streams WHERE item = ? ORDER BY number", (item_id,))
        streams = {int(number): ChunkedStream(cur, bytes(stream_id), int(length))
                   for stream_id, number, length in cur.fetchall()}  # fmt: skip
        for path in files:  # by number: after an interrupted run, some may be gone already
            number = int(_ATTACHMENT.match(path.name)[2])  # type: ignore[index]
            if number not in streams or not _file_holds(path, streams[number]):
                raise Damaged(f"{path.name} did not read back as it was written")


def _same(held: bytes, stored: bytes) -> bool:
    """True if what a file holds is what was stored, or what was stored with its beginning already
    overwritten by zeros (a run killed while destroying the file, after the copy was checked)."""
    start = len(held) - len(held.lstrip(b"\0"))
    return len(held) == len(stored) and held[start:] == stored[start:]


def _file_holds(path: Path, stored: ChunkedStream) -> bool:
    """_same, for a file as long as 50 MB: compared a chunk at a time."""
    overwritten = True  # still in the run of zeros a killed destruction left at the start
    with open(path, "rb") as f:
        for chunk in stored:
            held = f.read(len(chunk))
            if overwritten and not any(held):
                continue
            if not (_same(held, chunk) if overwritten else held == chunk):
                return False
            overwritten = False
        return f.read(1) == b""


def _status(path: Path) -> Update:
    """A status record of the file layout, checked as strictly as a return bundle's."""
    try:
        fields = json.loads(path.read_bytes())
        status, day = fields["status"], fields["day"]
        message = base64.b64decode(fields["message"], validate=True) if fields.get("message") else None
    except (ValueError, KeyError, TypeError):
        raise Damaged(f"{path} is not a status record") from None
    if status not in STATUSES or not isinstance(day, str) or len(day) != 10:
        raise Damaged(f"{path} is not a status record")
    if message is not None and len(message) != return_bundle.SEALED_MESSAGE_SIZE:
        raise Damaged(f"{path} holds a message of the wrong size")
    return Update(bytes.fromhex(path.name), status, day, message)


def _destroy(path: Path) -> None:
    """Overwrite a file with zeros, then remove it (as the file drop box deleted what it held)."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        for start in range(0, size, 2**20):
            f.write(bytes(min(2**20, size - start)))
        f.flush()
        os.fsync(f.fileno())
    path.unlink()
