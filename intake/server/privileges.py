"""Acting as the service account: what the operator's commands write stays the service's own.

The data folder belongs to the account the service runs as. An operator command started as
root does its work in the data folder as that account, so a status record, a journal or a
database file written from a root shell never becomes unreadable to the service (a lookup of
exactly those codes would fail, and tell an attacker they exist). Files the operator names on
the command line (a bundle to read, a bundle to write) are opened as the operator, before.
"""

import contextlib
import os
import pwd
from collections.abc import Iterator
from pathlib import Path


def owner_name(folder: Path) -> str:
    """The name of the account that owns `folder` (its number if it has no name)."""
    uid = os.stat(folder).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _identity(folder: Path) -> tuple[int, int, list[int]] | None:
    """(uid, gid, groups) to switch to, or None when no switch is needed (not root, root's folder,
    or no folder yet: the command then says so itself)."""
    if os.geteuid() != 0:
        return None
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return None
    if st.st_uid == 0:
        return None
    try:
        account = pwd.getpwuid(st.st_uid)
    except KeyError:
        return st.st_uid, st.st_gid, [st.st_gid]
    return account.pw_uid, account.pw_gid, os.getgrouplist(account.pw_name, account.pw_gid)


@contextlib.contextmanager
def as_owner(folder: Path) -> Iterator[None]:
    """Run the body with the effective identity of `folder`'s owner, then become root again."""
    who = _identity(folder)
    if who is None:
        yield
        return
    uid, gid, groups = who
    saved = os.getgroups()
    os.setgroups(groups)
    os.setegid(gid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(saved)


def become_owner(folder: Path) -> None:
    """Give up root for good and become `folder`'s owner (the service, started from a root shell)."""
    who = _identity(folder)
    if who is not None:
        uid, gid, groups = who
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
