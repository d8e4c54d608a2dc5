"""Durable file writes (temporary name, fsync, rename, fsync the directory), owner-only and dated
by the day alone: a file's or folder's times must not tell when a request arrived."""

import calendar
import contextlib
import os
import secrets
import stat
import time
from pathlib import Path


def today_start() -> int:
    """00:00 UTC today, in seconds: the only time of day any file or folder is given."""
    return calendar.timegm((*time.gmtime()[:3], 0, 0, 0))


def stamp(*paths: str | os.PathLike[str]) -> None:
    """Set the access and modification times of files and folders to the start of the day."""
    day = today_start()
    for path in paths:
        os.utime(path, (day, day))


def make_dir(path: Path) -> Path:
    """Make `path` a folder its owner alone can enter (whatever the umask, narrowing an existing
    one's mode), dated by the day when it is made."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        stamp(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & 0o700)
    return path


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in `directory` survive a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, durable: bool = True, replace: bool = True
) -> None:
    """Write `data` to `path` so that readers see all of it or nothing.

    With `replace=False` an existing file is never overwritten (FileExistsError). With
    `durable=False` the caller promises to sync later (the offline tool syncs once per run).
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()  # before the times are set: a later write would move them again
            day = today_start()
            os.utime(f.fileno(), (day, day))
            if durable:
                os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if `path` exists, unlike rename
            os.unlink(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(PermissionError):  # a folder of someone else's (a USB stick's root)
        stamp(path.parent)
    if durable:
        fsync_dir(path.parent)
