"""The data folder and the database: made once by the service, required by every operator command.

A command typed without the service's settings must not export "0 entries" from a folder that
does not exist, or import into a database the site never reads: it is refused, and nothing is
made. The server's secret lives here too: in the settings, or in the data folder, never in the
database, so that whoever holds only the database cannot forge what the server vouches for.
"""

import contextlib
import logging
import os
import secrets
from pathlib import Path

from intake.formats.durable import make_dir, write_atomic
from intake.server.database import DatabaseError, open_database
from intake.server.settings import Config
from intake.server.store import Store

MARKER = "intake-data-folder"  # written by the service on its first start
MARKER_TEXT = b"intake data folder, layout 2 (a database)\n"
SECRET_FILE = "secret_key"  # noqa: S105 (the name of the file that holds it)


# The folders and files in which releases before the database kept the drop box.
OLD_LAYOUT = ("dropbox", "status", "return-journal")


class DataFolderError(Exception):
    """The data folder or the database is missing, or was never set up by the service."""


def holds_files(data_dir: Path) -> bool:
    """True if the data folder still holds a drop box of files, for `intake migrate` to move."""
    return any((Path(data_dir) / name).exists() for name in OLD_LAYOUT)


def _refuse_files(data_dir: Path) -> None:
    if holds_files(data_dir):
        raise DataFolderError(
            f"the data folder {data_dir} holds requests in files, as releases before the database kept "
            "them: run `intake migrate` before anything else (docs/operator.md, upgrading)"
        )


def initialise(cfg: Config, moving: bool = False, worker: bool = False) -> Store:
    """Make the data folder (owner-only), its marker and the database's tables, at the first start.

    Refused while the folder holds a drop box of files: the service would show "no request found"
    for every code in it. `intake migrate` (`moving`) sets the database up to move them into it.
    A `worker` of a drop box set up before starts even if its database cannot be reached now (a
    restart of PostgreSQL, say): every request that needs it is answered "offline" until it is
    back, where a worker failing to start would stop the whole service.
    """
    if not moving:
        _refuse_files(cfg.data_dir)
    make_dir(cfg.data_dir)
    store = Store(open_database(cfg.database_url, cfg.data_dir))
    try:
        store.create()
    except store.db.errors as e:
        if not (worker and (cfg.data_dir / MARKER).is_file()):
            raise
        logging.getLogger("intake").warning(
            "the database cannot be reached (%s): the site is offline", type(e).__name__
        )
        return store
    if not (cfg.data_dir / MARKER).is_file():
        with contextlib.suppress(FileExistsError):  # another worker made it at the same moment
            write_atomic(cfg.data_dir / MARKER, MARKER_TEXT, replace=False)
    return store


def require(cfg: Config) -> Store:
    """The store the service set up, or one line saying what is wrong and where the setting came from."""
    data_dir = Path(cfg.data_dir)
    _refuse_files(data_dir)
    where = (
        f"the settings file {cfg.source}" if cfg.source else "INTAKE_DATA_DIR (no settings file was found)"
    )
    if not (data_dir / MARKER).is_file():
        if not data_dir.exists():
            problem = "does not exist"
        elif not os.access(data_dir, os.X_OK):
            problem = "cannot be read by this account"
        else:
            problem = "was never set up by `intake serve`"
        raise DataFolderError(
            f"the data folder {data_dir} {problem}; check {where}, or start the service once to set it up"
        )
    database = open_database(cfg.database_url, cfg.data_dir)
    try:
        ready = database.has_schema()
    except DatabaseError as e:
        raise DataFolderError(str(e)) from None
    if not ready:
        named = "the PostgreSQL database INTAKE_DATABASE_URL names" if cfg.database_url else str(data_dir)
        raise DataFolderError(
            f"{named} holds no drop box; check {where}, or start the service once to set it up"
        )
    return Store(database)


def secret(cfg: Config) -> str:
    """INTAKE_SECRET_KEY, else one made once in the data folder, so every worker signs alike."""
    if cfg.secret_key:
        return cfg.secret_key
    path = cfg.data_dir / SECRET_FILE
    with contextlib.suppress(FileExistsError):  # another worker made it first
        write_atomic(path, secrets.token_hex(32).encode("ascii"), replace=False)
    return path.read_text(encoding="ascii").strip()
