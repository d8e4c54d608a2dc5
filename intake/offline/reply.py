"""Build the signed return bundle from decisions.csv and the requests decrypted so far."""

import datetime
import time
from pathlib import Path

from .. import refcode, returns
from ..fsutil import write_atomic
from . import decisions
from .decrypt import FOLDER, REQUESTS, load_requests
from .keyring import Keyring


def sequence_file(keyring_path: Path) -> Path:
    """Where the last sequence number used lives: beside the keyring (it is not secret)."""
    return Path(str(keyring_path) + ".sequence")


def next_sequence(keyring_path: Path) -> int:
    """Newer than the last one used, and never behind the clock, so a lost counter file is harmless."""
    try:
        last = int(sequence_file(keyring_path).read_text(encoding="ascii"))
    except (FileNotFoundError, ValueError):
        last = 0
    return max(last + 1, int(time.time()))


def acknowledged_items(out: Path) -> tuple[bytes, ...]:
    """Every item decrypted into `out` so far: the server may delete them."""
    folder = Path(out) / REQUESTS
    names = sorted(
        p.name for p in folder.iterdir() if FOLDER.match(p.name) and (p / "request.json").is_file()
    )
    return tuple(bytes.fromhex(name) for name in names)


def build(out: Path, keyring: Keyring, sequence: int) -> returns.ReturnBundle:
    """The bundle for the decisions in out/decisions.csv and the items in out/requests."""
    day = datetime.date.today().isoformat()
    requests = {r["item"]: r for r in load_requests(Path(out))}
    found, _ = decisions.read(out, requests)
    chosen: dict[str, decisions.Decision] = {}
    for decision in found:
        earlier = chosen.setdefault(decision.code, decision)
        if (earlier.status, earlier.message) != (decision.status, decision.message):
            raise decisions.DecisionError(
                f"{decisions.FILE} rows {earlier.row} and {decision.row} decide the same reference code "
                "differently; keep one"
            )
    updates = []
    for decision in chosen.values():
        sealed = None
        if decision.message:
            reply_public = refcode.reply_key(decision.code).public_key
            sealed = returns.seal_message(decision.message, reply_public)
        updates.append(returns.Update(refcode.lookup_id(decision.code), decision.status, day, sealed))
    return returns.ReturnBundle(sequence, day, tuple(updates), acknowledged_items(out))


def write(out: Path, keyring: Keyring, keyring_path: Path, target: Path) -> returns.ReturnBundle:
    """Sign and write the return bundle (never over an existing file), then record its sequence."""
    bundle = build(out, keyring, next_sequence(keyring_path))
    write_atomic(Path(target), returns.encode(bundle, keyring.current.sign), mode=0o600, replace=False)
    write_atomic(sequence_file(keyring_path), str(bundle.sequence).encode("ascii"), mode=0o600)
    return bundle
