"""`intake-offline backup` and `restore`: the keyring, its sequence file, the decisions, the ledger,
the notes (and, on request, the decrypted requests), copied whole and checked on the way back.

A backup is a folder: keyring/ (the keyring and its .sequence), folder/ (what lives beside
decisions.csv, and with --with-requests the requests themselves) and manifest.json naming every
file with its SHA-256. Restore checks every file and every name before it writes anything, and
writes only onto a keyring path and a folder that hold none of it. docs/formats.md, section 10e.
"""

import datetime
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from intake.formats.durable import make_dir, sync, write_atomic
from intake.offline import cases, decisions, ledger, notes, runs
from intake.offline.runs import REQUESTS

MANIFEST = "manifest.json"
VERSION = 2  # 2: the requests as run files and pages (1, one folder per request, is restored too)
STATE = (decisions.FILE, ledger.FILE, notes.FILE, cases.NEW_FILE)  # beside decisions.csv
PAGES = ("index.html", "index.csv")
# The names a restore accepts: nothing else is written, whatever a manifest says.
KEYRING = "keyring/secretariat.keyring"  # whatever the keyring's own name (the manifest keeps it)
SEQUENCE = KEYRING + ".sequence"
_NAME = re.compile(
    r"\A(keyring/secretariat\.keyring(?:\.sequence)?"
    r"|folder/(?:" + "|".join(re.escape(n) for n in STATE + PAGES) + ")"
    r"|folder/requests/run-[1-9][0-9]{0,8}(?:\.jsonl|-page-[1-9][0-9]{0,8}\.html)"
    r"|folder/requests/[0-9a-f]{32}/(?:request\.json|request\.html|attachment-[0-9]{1,2}\.[a-z0-9]{1,5}))\Z"
)


class BackupError(ValueError):
    """A backup that cannot be made, or restored, as asked; nothing was written."""


def _copy(source: Path, target: Path) -> str:
    """Copy a file, owner-only, never over another; return its SHA-256."""
    digest = hashlib.sha256()
    with (
        open(source, "rb") as src,
        os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as dst,
    ):
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


def _empty_or_new(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} already exists and is not an empty folder; choose a new one")


@dataclass(frozen=True)
class Made:
    """What a backup holds: every file by its name in the backup, and how many requests."""

    files: list[str]
    requests: int


def _requests(out: Path, target: Path, files: dict[str, str]) -> None:
    """Copy the runs' files and pages, and every request's files (the earlier layout's too)."""
    directory = out / REQUESTS
    make_dir(target / REQUESTS)
    for path in sorted(directory.iterdir()):
        inside = sorted(path.iterdir()) if path.is_dir() and not path.is_symlink() else [path]
        for source in inside:
            name = f"folder/{source.relative_to(out)}"
            if _NAME.match(name) and source.is_file() and not source.is_symlink():
                make_dir(target / source.relative_to(out).parent)
                files[name] = _copy(source, target / source.relative_to(out))


def make(out: Path, keyring_path: Path, target: Path, *, with_requests: bool = False) -> Made:
    """Copy the keyring, its .sequence and the folder's state (and its requests) into `target`."""
    out, keyring_path, target = Path(out), Path(keyring_path), Path(target)
    if not keyring_path.is_file():
        raise BackupError(f"no keyring at {keyring_path}")
    if not (out / decisions.FILE).is_file():
        raise BackupError(f"no {decisions.FILE} in {out}: is it the folder decrypt writes?")
    _empty_or_new(target)
    files: dict[str, str] = {}
    requests = 0
    with ledger.locked(out):  # decisions, ledger and notes as one moment
        make_dir(target / "keyring")
        make_dir(target / "folder")
        make_dir(target)
        files[KEYRING] = _copy(keyring_path, target / KEYRING)
        sequence = Path(str(keyring_path) + ".sequence")
        if sequence.is_file():
            files[SEQUENCE] = _copy(sequence, target / SEQUENCE)
        for name in STATE + (PAGES if with_requests else ()):
            if (out / name).is_file():
                files[f"folder/{name}"] = _copy(out / name, target / "folder" / name)
        if with_requests:
            _requests(out, target / "folder", files)
            requests = len(runs.decrypted_items(runs.read(out)))
    manifest = {
        "version": VERSION,
        "day": datetime.date.today().isoformat(),
        "keyring": keyring_path.name,
        "requests": with_requests,
        "files": files,
    }
    write_atomic(target / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    sync([], {(target / name).parent for name in files} | {target.parent})  # every file was synced
    return Made(sorted(files), requests)


@dataclass(frozen=True)
class Restored:
    """What a restore wrote."""

    files: list[str]
    requests: bool


def _manifest(backup: Path) -> dict[str, str]:
    try:
        manifest = json.loads((backup / MANIFEST).read_bytes())
        if manifest["version"] not in (1, VERSION):
            raise ValueError("version")
        files = dict(manifest["files"])
    except FileNotFoundError:
        raise BackupError(f"no {MANIFEST} in {backup}: not a backup made by intake-offline backup") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BackupError(f"{backup / MANIFEST} is damaged ({type(e).__name__})") from None
    for name, digest in files.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise BackupError(f"the manifest names a file a backup never holds: {name!r}")
        try:
            same = (
                isinstance(digest, str) and hashlib.sha256((backup / name).read_bytes()).hexdigest() == digest
            )
        except OSError:
            same = False
        if not same:
            raise BackupError(f"{backup / name} is missing or damaged; nothing was restored")
    if KEYRING not in files:
        raise BackupError("the backup holds no keyring")
    return files


def restore(backup: Path, keyring_path: Path, out: Path) -> Restored:
    """Check the whole backup, then put it back: the keyring at `keyring_path`, the rest into `out`."""
    backup, keyring_path, out = Path(backup), Path(keyring_path), Path(out)
    files = _manifest(backup)
    targets = {}
    for name in files:
        if name == KEYRING:
            targets[name] = keyring_path
        elif name == SEQUENCE:
            targets[name] = Path(str(keyring_path) + ".sequence")
        else:
            targets[name] = out / name.removeprefix("folder/")
    taken = [str(t) for t in targets.values() if t.exists()]
    if taken:
        raise BackupError(f"{taken[0]} already exists; restore onto a new keyring path and folder")
    make_dir(out / REQUESTS)
    make_dir(out)
    if not keyring_path.parent.exists():
        make_dir(keyring_path.parent)
    for name, target in sorted(targets.items()):
        if not target.parent.exists():
            make_dir(target.parent)
        _copy(backup / name, target)
    sync([], {target.parent for target in targets.values()} | {out.parent, keyring_path.parent.parent})
    return Restored(sorted(files), any(n.startswith(f"folder/{REQUESTS}/") for n in files))
