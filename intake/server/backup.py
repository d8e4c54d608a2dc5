"""`intake backup` and `intake restore` for the SQLite drop box: one file holding a consistent
copy of the database and the server's secret, put back whole or not at all.

The copy is made with SQLite's online backup, one point in time, while the service runs. The
secret travels with it: without it, the statuses the server filed itself ("received", and those
of version 1 bundles) would no longer verify after a restore, and defenders would be told "no
request found". PostgreSQL is backed up with pg_dump (docs/operator.md).
"""

import contextlib
import fcntl
import os
import secrets
import sqlite3
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from intake.formats.durable import fsync_dir, make_dir, stamp, today_start, write_atomic
from intake.server import datafolder
from intake.server.database import FILE, SQLite
from intake.server.settings import Config

DATABASE, SECRET = "intake.db", datafolder.SECRET_FILE  # the members of a backup, nothing else
LOCK = "in-use"  # held (shared) by the running service; a restore needs it alone
MAX_BACKUP = 1 << 40


class BackupError(Exception):
    """A backup that cannot be written or restored; nothing was changed."""


def hold(data_dir: Path) -> int:
    """Take the service's shared lock on the data folder for as long as the process lives (its
    workers inherit it): a restore cannot swap the database under a running service."""
    fd = os.open(Path(data_dir) / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    stamp(Path(data_dir) / LOCK, data_dir)  # made when the service first started: dated by the day
    return fd


@contextlib.contextmanager
def _service_stopped(data_dir: Path) -> Iterator[None]:
    fd = os.open(Path(data_dir) / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError("the service is running: stop it first (systemctl stop intake)") from None
        yield
    finally:
        os.close(fd)


def write(cfg: Config, store_db: SQLite, out: BinaryIO) -> None:
    """Write the backup: the database at one point in time, and the secret if it is in the folder."""
    copy = cfg.data_dir / f".backup-{secrets.token_hex(8)}"
    try:
        source = sqlite3.connect(f"file:{store_db.path}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, DATABASE, copy)
            if not cfg.secret_key:
                _add(tar, SECRET, cfg.data_dir / SECRET)
    finally:
        copy.unlink(missing_ok=True)
        stamp(cfg.data_dir)


def _add(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = path.stat().st_size, 0o600, today_start()  # the day, no time
    with open(path, "rb") as f:
        tar.addfile(info, f)


def restore(cfg: Config, backup: BinaryIO, replace: bool) -> tuple[int, int]:
    """Put a backup in place of the database; return the requests and statuses it holds.

    Refused, changing nothing, while the service runs, when the backup is not one, or when the
    drop box holds requests or statuses that would be lost and `replace` was not given.
    """
    if cfg.database_url:
        raise BackupError(
            "the database is PostgreSQL: restore it with pg_restore (docs/operator.md, backups)"
        )
    data_dir = Path(cfg.data_dir)
    incoming = data_dir / f".restore-{secrets.token_hex(8)}"
    try:
        secret = _unpack(backup, incoming)
        held = _count(incoming)
        if held is None:
            raise BackupError("the backup's database is damaged or is not intake's: nothing was changed")
        with _service_stopped(data_dir):
            current = _count(data_dir / FILE) if (data_dir / FILE).exists() else (0, 0)
            if current and any(current) and not replace:
                raise BackupError(
                    f"the drop box holds {current[0]} requests and {current[1]} statuses that the restore "
                    "would replace: pass --replace if that is what you want"
                )
            if secret is None and not cfg.secret_key:
                raise BackupError("the backup holds no server secret, and INTAKE_SECRET_KEY is not set")
            for leftover in ("-wal", "-shm"):
                Path(f"{data_dir / FILE}{leftover}").unlink(missing_ok=True)
            os.replace(incoming, data_dir / FILE)
            if secret is not None and not cfg.secret_key:
                write_atomic(data_dir / SECRET, secret)
            fsync_dir(data_dir)
            stamp(data_dir / FILE, data_dir)
    finally:
        incoming.unlink(missing_ok=True)
    return held


def _unpack(backup: BinaryIO, incoming: Path) -> bytes | None:
    """Read the backup strictly: its database into `incoming`, its secret returned."""
    secret = None
    try:
        with tarfile.open(fileobj=backup, mode="r:") as tar:
            names = []
            for member in tar:
                names.append(member.name)
                if (
                    not member.isreg()
                    or member.name not in (DATABASE, SECRET)
                    or names.count(member.name) > 1
                ):
                    raise BackupError(
                        f"not a backup written by `intake backup` ({member.name!r}): nothing was changed"
                    )
                data = tar.extractfile(member)
                assert data is not None  # a regular file
                if member.name == SECRET:
                    secret = data.read(200).strip()
                    if not (32 <= len(secret) < 200 and secret.isascii() and secret.isalnum()):
                        raise BackupError("the backup's server secret is damaged: nothing was changed")
                    continue
                make_dir(incoming.parent)
                with open(incoming, "xb") as f:
                    os.chmod(incoming, 0o600)
                    while piece := data.read(1 << 20):
                        f.write(piece)
                    f.flush()
                    os.fsync(f.fileno())
    except (tarfile.TarError, EOFError):
        raise BackupError(
            "not a backup written by `intake backup` (damaged or cut short): nothing was changed"
        ) from None
    if DATABASE not in names:
        raise BackupError("the backup holds no database: nothing was changed")
    return secret


def _count(path: Path) -> tuple[int, int] | None:
    """(requests, statuses) in a database file, or None if it is not a sound intake database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                return None
            conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            items = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
            statuses = conn.execute("SELECT COUNT(*) FROM statuses").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return int(items), int(statuses)
