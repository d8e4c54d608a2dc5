"""One SQL schema on two engines: SQLite (the standard library's, one file) and PostgreSQL.

Plain DB-API with a thin dialect: the statements are written once, with `?` placeholders and a
`{blob}` type, and each engine gets its own connection settings. Each thread has its own SQLite
connection; PostgreSQL connections come from a pool per worker process. docs/decisions.md says
why no ORM.
"""

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from intake.formats.durable import stamp

SCHEMA_VERSION = 1
FILE = "intake.db"  # the SQLite database, in the data folder

# Every table the drop box needs. No column holds a time of day, and none has a default that
# would take one (docs/security.md): days only, written by the code.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id {blob} PRIMARY KEY,
    data {blob} NOT NULL,
    day TEXT NOT NULL,
    size BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS streams (
    id {blob} PRIMARY KEY,
    item {blob} REFERENCES items(id) ON DELETE CASCADE,
    number INTEGER,
    length BIGINT NOT NULL,
    staged TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS streams_by_item ON streams(item, number);
CREATE TABLE IF NOT EXISTS chunks (
    stream {blob} NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    data {blob} NOT NULL,
    PRIMARY KEY (stream, n)
);
CREATE TABLE IF NOT EXISTS statuses (
    lookup {blob} PRIMARY KEY,
    status TEXT NOT NULL,
    day TEXT NOT NULL,
    message {blob},
    proof {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE {volatile} TABLE IF NOT EXISTS limits (name TEXT PRIMARY KEY, slot BIGINT NOT NULL, used BIGINT NOT NULL);
"""


class DatabaseError(Exception):
    """The database cannot be reached or is not intake's; one line says which."""


class Cursor(Protocol):
    """What both engines' cursors offer that the store uses."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Database:
    """Connections to the drop box's database, and transactions on them."""

    engine = ""
    errors: tuple[type[Exception], ...] = (OSError,)  # what storing can fail with: a full disk, a lost server
    integrity_errors: tuple[type[Exception], ...] = ()
    for_update = ""  # what locks a row being read for an update (SQLite's write lock covers it)
    # What serialises setting up the tables when every worker of every machine starts at once
    # (SQLite's write lock, taken by BEGIN IMMEDIATE, does it there).
    schema_lock = ""

    def sql(self, statement: str) -> str:
        """The statement in this engine's dialect."""
        return statement

    @contextlib.contextmanager
    def transaction(self, durable: bool = True) -> Iterator[Cursor]:
        """A write transaction; `durable=False` for what may be lost in a crash (staged chunks,
        rate counters): a later durable commit makes it durable too."""
        raise NotImplementedError
        yield

    @contextlib.contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A read-only view (one consistent snapshot)."""
        raise NotImplementedError
        yield

    def create_schema(self) -> None:
        """Create the tables if they are not there, and record the schema version."""
        with self.transaction() as cur:
            if self.schema_lock:
                cur.execute(self.schema_lock)
            for statement in self.schema_statements():
                cur.execute(statement)
            cur.execute(self.sql("INSERT INTO meta (name, value) VALUES ('schema', ?) ON CONFLICT (name) DO NOTHING"),
                        (str(SCHEMA_VERSION),))  # fmt: skip

    def schema_statements(self) -> list[str]:
        """The schema, one statement each, in this engine's dialect."""
        raise NotImplementedError

    def has_schema(self) -> bool:
        """True if intake's tables are there (the service set the database up)."""
        raise NotImplementedError

    def files(self) -> list[Path]:
        """The database's files on this machine (none for a server reached over the network)."""
        return []

    def close(self) -> None:
        """Close every connection this process holds."""


class SQLite(Database):
    """One file in the data folder: WAL, synchronous=FULL, secure_delete=ON, foreign keys on."""

    engine = "sqlite"
    errors = (OSError, sqlite3.Error, DatabaseError)
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: Path):
        self.path = Path(path)
        self.local = threading.local()
        self.lock = threading.Lock()
        self.connections: list[sqlite3.Connection] = []
        self.turns: list[int] = []  # each thread's descriptor of the data folder, to take turns on
        # What stamp() dates after every transaction, named once: making Paths cost more than dating.
        self.dated = [os.fspath(p) for p in (*self.files(), self.path.parent)]

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
            except sqlite3.Error as e:
                raise DatabaseError(f"cannot open {self.path}: {e}") from None
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            self.local.turn = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            self.local.conn = conn
            with self.lock:
                self.connections.append(conn)
                self.turns.append(self.local.turn)
        return conn

    def schema_statements(self) -> list[str]:
        """SQLite's dialect of the schema."""
        text = SCHEMA.format(blob="BLOB", volatile="")
        return [s.strip() for s in text.split(";") if s.strip()]

    @contextlib.contextmanager
    def transaction(self, durable: bool = True) -> Iterator[Cursor]:
        """BEGIN IMMEDIATE (the write lock, taken at once), COMMIT or ROLLBACK.

        Writers take turns first on an exclusive flock of the data folder, one descriptor per
        thread, every process and thread alike: the kernel wakes a waiter the moment the turn is
        free. Left to SQLite's busy handler, waiters slept between tries (up to 100 ms each) while
        the write lock sat idle, and one submission in a hundred waited half a second.
        """
        conn = self._connection()
        fcntl.flock(self.local.turn, fcntl.LOCK_EX)
        try:
            if not durable:
                conn.execute("PRAGMA synchronous=OFF")
            cur = conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                if not durable:
                    conn.execute("PRAGMA synchronous=FULL")
                cur.close()
        finally:
            fcntl.flock(self.local.turn, fcntl.LOCK_UN)
        self.stamp()

    def stamp(self) -> None:
        """Date the database's files by the day (docs/security.md): their times would otherwise be
        the time of the last request."""
        for path in self.dated:
            with contextlib.suppress(OSError):  # the log and its index come and go
                stamp(path)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A deferred transaction: one consistent snapshot, no write lock."""
        cur = self._connection().cursor()
        try:
            cur.execute("BEGIN")
            try:
                yield cur
            finally:
                cur.execute("COMMIT")
        finally:
            cur.close()

    def has_schema(self) -> bool:
        """True if the file exists and holds intake's tables."""
        if not self.path.is_file():
            return False
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return False
        return row is not None

    def files(self) -> list[Path]:
        """The database file, its write-ahead log and its shared-memory index."""
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]

    def close(self) -> None:
        """Close every connection this process opened (the last one out folds the log into the
        file), and date the files by the day."""
        with self.lock:
            for conn in self.connections:
                conn.close()
            for turn in self.turns:
                os.close(turn)
            self.connections.clear()
            self.turns.clear()
        self.local = threading.local()
        self.stamp()


class PostgreSQL(Database):
    """A PostgreSQL database shared by several machines, through psycopg 3 and a pool."""

    engine = "postgresql"
    for_update = " FOR UPDATE"
    schema_lock = "SELECT pg_advisory_xact_lock(4627455)"  # any constant, the same on every machine

    def __init__(self, url: str, size: int = 8):
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise DatabaseError("INTAKE_DATABASE_URL names PostgreSQL: install intake[postgres]") from None
        self.url = url
        self.errors = (OSError, psycopg.Error, DatabaseError)
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        self.psycopg = psycopg
        # A transaction waits at most 10 s for a connection (PoolTimeout): a request during an outage
        # is answered "offline" while the defender is still there to read it. A reconnection gives up
        # after 10 s too, and the next request starts another: psycopg_pool's default (5 minutes of
        # doubling delays) left the site offline for minutes after the database came back.
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=size,
            open=False,
            timeout=10,
            reconnect_timeout=10,
            # A host that drops packets (switched off, cut off) rather than refusing: each attempt
            # gives up after 5 s, not psycopg's 130, so a reconnection never outlasts the outage.
            kwargs={"autocommit": True, "connect_timeout": 5},
        )
        self.opened = False
        self.lock = threading.Lock()

    def _pool(self) -> Any:
        if not self.opened:
            with self.lock:
                if not self.opened:
                    # Opened once: if the database cannot be reached now, the pool goes on trying in
                    # the background, and each later transaction waits for a connection on its own
                    # (PoolTimeout, one of self.errors), not for the whole pool under this lock.
                    # (Not open(wait=True): on a timeout it closes the pool for good.)
                    try:
                        self.pool.open()
                        self.opened = True
                        with self.pool.connection():
                            pass
                    except Exception as e:
                        raise DatabaseError(f"cannot reach the database: {type(e).__name__}") from None
        return self.pool

    def sql(self, statement: str) -> str:
        """psycopg's placeholders are %s."""
        return statement.replace("?", "%s")

    def schema_statements(self) -> list[str]:
        """PostgreSQL's dialect: bytea, and an unlogged table for the rate counters (no WAL)."""
        text = SCHEMA.format(blob="BYTEA", volatile="UNLOGGED")
        return [s.strip() for s in text.split(";") if s.strip()]

    @contextlib.contextmanager
    def transaction(self, durable: bool = True) -> Iterator[Cursor]:
        """A transaction from the pool; not durable: synchronous_commit off for this one only."""
        with self._pool().connection() as conn, conn.transaction(), conn.cursor() as cur:
            if not durable:
                cur.execute("SET LOCAL synchronous_commit = off")
            yield _Translating(cur, self)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A repeatable-read transaction: one snapshot."""
        with self._pool().connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _Translating(cur, self)

    def has_schema(self) -> bool:
        """True if intake's tables are in the database."""
        try:
            with self.reading() as cur:
                cur.execute("SELECT to_regclass('meta') IS NOT NULL")
                exists = cur.fetchone()[0]
                if not exists:
                    return False
                cur.execute("SELECT value FROM meta WHERE name = 'schema'")
                return cur.fetchone() is not None
        except self.psycopg.Error:
            return False

    def close(self) -> None:
        """Close the pool."""
        if self.opened:
            self.pool.close()
            self.opened = False


class _Translating:
    """A psycopg cursor taking the schema's `?` placeholders."""

    def __init__(self, cur: Any, database: PostgreSQL):
        self.cur, self.database = cur, database

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return int(self.cur.rowcount)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement."""
        return self.cur.execute(self.database.sql(sql), params)

    def fetchone(self) -> Any:
        """The next row."""
        return self.cur.fetchone()

    def fetchall(self) -> list[Any]:
        """Every row left."""
        return list(self.cur.fetchall())


def open_database(url: str | None, data_dir: Path, pool_size: int = 8) -> Database:
    """The database the settings name: PostgreSQL for a postgresql:// URL, else SQLite in the data folder."""
    if url:
        return PostgreSQL(url, pool_size)
    return SQLite(Path(data_dir) / FILE)
