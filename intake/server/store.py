"""The drop box in the database: sealed items and their files, statuses, the return sequence,
the quota and the rate counters, shared by every worker and every machine.

Nothing here can read a request: items and files are ciphertext, statuses are filed under a
hash of the code. Each accepted request is one transaction (item, files, "received" status,
quota), committed before its code is shown. Files are staged chunk by chunk in short
transactions while they stream in, so no write lock waits on a slow connection.
"""

import contextlib
import datetime
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from intake.formats import export_bundle
from intake.formats.stream import SEALED_CHUNK
from intake.server.database import Cursor, Database

STORED, SEQUENCE = "stored", "sequence"  # counters: bytes held for export, last return bundle
WINDOW = 10  # seconds: the rate limits count in windows of ten seconds


def today() -> str:
    """The day in UTC: the only time the server keeps."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


class Full(Exception):
    """The quota (or its part for requests with files) cannot take this request."""


@dataclass(frozen=True)
class StatusRow:
    """A status as stored: its proof is the secretariat's signature or the server's MAC."""

    lookup: bytes
    status: str
    day: str
    message: bytes | None
    proof: bytes


class StagedStream:
    """A sealed file being written as it arrives: pieces go into chunk rows of SEALED_CHUNK bytes."""

    def __init__(self, store: "Store"):
        self.store = store
        self.id = secrets.token_bytes(16)
        self.buffer = bytearray()
        self.count = 0
        self.length = 0
        with store.db.transaction(durable=False) as cur:
            cur.execute("INSERT INTO streams (id, item, number, length, staged) VALUES (?, NULL, NULL, 0, ?)",
                        (self.id, today()))  # fmt: skip

    def write(self, data: bytes) -> int:
        """Take ciphertext; store every whole chunk's worth."""
        self.buffer += data
        self.length += len(data)
        while len(self.buffer) >= SEALED_CHUNK:
            self._store(bytes(self.buffer[:SEALED_CHUNK]))
            del self.buffer[:SEALED_CHUNK]
        return len(data)

    def _store(self, piece: bytes) -> None:
        with self.store.db.transaction(durable=False) as cur:
            cur.execute("INSERT INTO chunks (stream, n, data) VALUES (?, ?, ?)", (self.id, self.count, piece))
        self.count += 1

    def finish(self) -> int:
        """Store what is left and record the length; the accept transaction makes it durable."""
        if self.buffer or not self.count:
            self._store(bytes(self.buffer))
            self.buffer = bytearray()
        with self.store.db.transaction(durable=False) as cur:
            cur.execute("UPDATE streams SET length = ? WHERE id = ?", (self.length, self.id))
        return self.length


class Store:
    """The drop box's operations, one transaction each."""

    def __init__(self, db: Database):
        self.db = db

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()

    def create(self) -> None:
        """Create the schema and the counters, if this is the first start."""
        self.db.create_schema()
        with self.db.transaction() as cur:
            for name in (STORED, SEQUENCE):
                cur.execute(
                    "INSERT INTO counters (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", (name,)
                )

    # Files, staged while they stream in.

    def stage(self) -> StagedStream:
        """A new stream to write a sealed file into."""
        return StagedStream(self)

    def discard(self, stream_ids: Sequence[bytes]) -> None:
        """Delete staged streams that no request took (a refusal, an error, a cut connection)."""
        if stream_ids:
            with self.db.transaction(durable=False) as cur:
                for stream_id in stream_ids:
                    cur.execute("DELETE FROM streams WHERE id = ? AND item IS NULL", (stream_id,))

    def sweep(self) -> int:
        """Delete streams staged before yesterday and never joined to a request (a crash, a kill)."""
        yesterday = (datetime.date.fromisoformat(today()) - datetime.timedelta(days=1)).isoformat()
        with self.db.transaction(durable=False) as cur:
            cur.execute("DELETE FROM streams WHERE item IS NULL AND staged < ?", (yesterday,))
            return cur.rowcount

    # Accepting a request.

    def accept(
        self,
        item_id: bytes,
        data: bytes,
        streams: Sequence[tuple[bytes, int]],
        status: StatusRow,
        limit: int,
    ) -> None:
        """Store an item, join its staged streams, record its status and count its bytes, at once.

        Raise Full, changing nothing, when the stored bytes would pass `limit`.
        """
        size = len(data) + sum(length for _, length in streams)
        with self.db.transaction() as cur:
            cur.execute("UPDATE counters SET value = value + ? WHERE name = ? AND value + ? <= ?",
                        (size, STORED, size, limit))  # fmt: skip
            if cur.rowcount != 1:
                raise Full()
            cur.execute(
                "INSERT INTO items (id, data, day, size) VALUES (?, ?, ?, ?)",
                (item_id, data, status.day, size),
            )
            for number, (stream_id, _length) in enumerate(streams, start=1):
                cur.execute("UPDATE streams SET item = ?, number = ? WHERE id = ? AND item IS NULL",
                            (item_id, number, stream_id))  # fmt: skip
                if cur.rowcount != 1:
                    raise LookupError("a staged file is gone")
            _put_status(cur, status)

    def stored_bytes(self) -> int:
        """How many bytes the drop box holds, counted as requests were accepted and deleted."""
        with self.db.reading() as cur:
            return _counter(cur, STORED)

    # Statuses.

    def status(self, lookup: bytes) -> StatusRow | None:
        """The status filed under a lookup id, as stored (its proof is checked by the caller)."""
        with self.db.reading() as cur:
            cur.execute(
                "SELECT lookup, status, day, message, proof FROM statuses WHERE lookup = ?", (lookup,)
            )
            row = cur.fetchone()
        return (
            None if row is None else StatusRow(bytes(row[0]), row[1], row[2], _bytes(row[3]), bytes(row[4]))
        )

    def put_status(self, status: StatusRow) -> None:
        """File a status (replacing the one under the same lookup id)."""
        with self.db.transaction() as cur:
            _put_status(cur, status)

    # Exporting.

    def waiting(self) -> tuple[int, str | None]:
        """How many requests wait for export, and the day the oldest arrived (nothing more)."""
        with self.db.reading() as cur:
            cur.execute("SELECT COUNT(*), MIN(day) FROM items")
            count, oldest = cur.fetchone()
        return int(count), oldest

    def export_entries(self) -> Iterator[tuple[int, bytes, "bytes | ChunkedStream"]]:
        """Every item, then its streams, as export_bundle.write takes them; one consistent snapshot."""
        with self.db.reading() as cur:
            cur.execute("SELECT id FROM items ORDER BY id")
            ids = [bytes(row[0]) for row in cur.fetchall()]
            for item_id in ids:
                cur.execute("SELECT data FROM items WHERE id = ?", (item_id,))
                yield export_bundle.TYPE_ITEM, item_id, bytes(cur.fetchone()[0])
                cur.execute("SELECT id, length FROM streams WHERE item = ? ORDER BY number", (item_id,))
                for stream_id, length in cur.fetchall():
                    yield (
                        export_bundle.TYPE_ATTACHMENT,
                        item_id,
                        ChunkedStream(cur, bytes(stream_id), int(length)),
                    )

    # Importing a return bundle.

    def last_sequence(self) -> int:
        """The sequence number of the last return bundle applied, 0 if none."""
        with self.db.reading() as cur:
            return _counter(cur, SEQUENCE)

    @contextlib.contextmanager
    def returning(self, sequence: int) -> Iterator["Returning"]:
        """Apply a return bundle whole, or not at all: its sequence must be newer than the last."""
        with self.db.transaction() as cur:
            lock = self.db.for_update  # a constant of the dialect, not input
            cur.execute(f"SELECT value FROM counters WHERE name = ?{lock}", (SEQUENCE,))  # noqa: S608
            last = int(cur.fetchone()[0])
            if sequence <= last:
                raise Stale(last)
            yield Returning(cur)
            cur.execute("UPDATE counters SET value = ? WHERE name = ?", (sequence, SEQUENCE))

    # Rate limits, shared by every worker and machine.

    def allow(self, name: str, per_minute: int, now: float | None = None) -> bool:
        """Count one event against a site-wide rate: at most a sixth of it in any ten seconds.
        `now` is the clock reading (tests pass one)."""
        window = int(time.time() if now is None else now) // WINDOW
        limit = max(1, per_minute // 6)
        with self.db.transaction(durable=False) as cur:
            cur.execute("INSERT INTO limits (name, slot, used) VALUES (?, ?, 0) ON CONFLICT (name) DO NOTHING",
                        (name, window))  # fmt: skip
            # A reading older than the counter's window counts in that window: the window only moves
            # forward, or a worker that read the clock just before it turned would reopen it.
            cur.execute("UPDATE limits SET used = CASE WHEN slot >= ? THEN used + 1 ELSE 1 END, "
                        "slot = CASE WHEN slot >= ? THEN slot ELSE ? END "
                        "WHERE name = ? AND (slot < ? OR used < ?)",
                        (window, window, window, name, window, limit))  # fmt: skip
            return cur.rowcount == 1

    def tick(self) -> None:
        """Move every counter to the current window, requests or not: the window a seized database
        holds is when the service last ran, never when the last request came."""
        window = int(time.time()) // WINDOW
        with self.db.transaction(durable=False) as cur:
            cur.execute("UPDATE limits SET slot = ?, used = 0 WHERE slot < ?", (window, window))


class Stale(Exception):
    """A return bundle whose sequence number is not newer than the last one applied."""

    def __init__(self, last: int):
        super().__init__(last)
        self.last = last


class Returning:
    """Inside the transaction applying a return bundle."""

    def __init__(self, cur: Cursor):
        self.cur = cur
        self.deleted = 0

    def status(self, status: StatusRow) -> None:
        """File a status from the bundle."""
        _put_status(self.cur, status)

    def acknowledge(self, item_id: bytes) -> None:
        """Delete an acknowledged item and its files, and give its bytes back to the quota."""
        self.cur.execute("SELECT size FROM items WHERE id = ?", (item_id,))
        row = self.cur.fetchone()
        if row is None:
            return
        self.cur.execute("DELETE FROM items WHERE id = ?", (item_id,))  # its streams and chunks go too
        self.cur.execute("UPDATE counters SET value = value - ? WHERE name = ?", (int(row[0]), STORED))
        self.deleted += 1


class ChunkedStream:
    """A stored stream, read chunk by chunk: a 50 MB file is never all in memory."""

    def __init__(self, cur: Cursor, stream_id: bytes, length: int):
        self.cur, self.id, self.length = cur, stream_id, length

    def __iter__(self) -> Iterator[bytes]:
        n = 0
        while True:
            self.cur.execute("SELECT data FROM chunks WHERE stream = ? AND n = ?", (self.id, n))
            row = self.cur.fetchone()
            if row is None:
                return
            yield bytes(row[0])
            n += 1


def _put_status(cur: Cursor, status: StatusRow) -> None:
    cur.execute(
        "INSERT INTO statuses (lookup, status, day, message, proof) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (lookup) DO UPDATE SET status = excluded.status, day = excluded.day, "
        "message = excluded.message, proof = excluded.proof",
        (status.lookup, status.status, status.day, status.message, status.proof),
    )


def _counter(cur: Cursor, name: str) -> int:
    cur.execute("SELECT value FROM counters WHERE name = ?", (name,))
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _bytes(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[call-overload]
