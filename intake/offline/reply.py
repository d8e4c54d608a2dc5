"""Build the signed return bundle from decisions.csv and the requests decrypted so far."""

import datetime
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from intake.formats import refcode, return_bundle
from intake.formats.durable import write_atomic
from intake.formats.keyring import Keyring
from intake.offline import cases, decisions, ledger, pages, plan, runs


def sequence_file(keyring_path: Path) -> Path:
    """Where the last sequence number used lives: beside the keyring (it is not secret)."""
    return Path(str(keyring_path) + ".sequence")


def next_sequence(keyring_path: Path, book: ledger.Ledger, after: int = 0) -> int:
    """Newer than any used before (per the counter file and this folder's ledger) and than `after`,
    and never behind the clock, so a lost counter file is harmless unless the clock is behind too.
    """
    try:
        last = int(sequence_file(keyring_path).read_text(encoding="ascii"))
    except (FileNotFoundError, ValueError):
        last = 0
    return max(last + 1, book.last_sequence() + 1, after + 1, int(time.time()))


@dataclass(frozen=True)
class Reply:
    """A reply written: the bundle, what it sent, and how decisions.csv was read."""

    bundle: return_bundle.ReturnBundle
    sent: plan.Plan
    read_as: str


class Changed(ValueError):
    """What a reply would carry is no longer what was shown (the desk's preview): nothing written."""


@dataclass(frozen=True)
class Prepared:
    """Everything the next reply carries, read and checked, before anything is written."""

    plan: plan.Plan
    acks: tuple[bytes, ...]
    sequence: int
    today: str
    read_as: str
    book: ledger.Ledger
    found: runs.Found

    def digest(self) -> str:
        """Names what the bundle would carry (not its sequence number, which follows the clock)."""
        sent = [[o.code, o.status, o.message, o.decided, o.new] for o in self.plan.outgoing]
        text = json.dumps([sent, [a.hex() for a in self.acks], self.today], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare(out: Path, keyring_path: Path, *, resend: bool = False, after: int = 0) -> Prepared:
    """Read and check what the next reply sends, writing nothing (raise DecisionError, LedgerError)."""
    book = ledger.load(out)
    found = runs.read(out)
    requests = found.requests
    decided, sheet = decisions.read(out, {r["item"]: r for r in requests})
    rows = {cells["item"].strip().lower(): number for number, cells in sheet.rows}
    today = datetime.date.today().isoformat()
    chosen = plan.plan(requests, decided, rows, book, today, resend)
    sequence = next_sequence(keyring_path, book, after)
    # Every item decrypted here so far, readable or not: the server may delete them.
    acks = tuple(bytes.fromhex(item) for item in runs.decrypted_items(found))
    return Prepared(chosen, acks, sequence, today, sheet.describe(), book, found)


def _update(outgoing: plan.Outgoing) -> return_bundle.Update:
    code = refcode.normalise(outgoing.code)
    sealed = None
    if outgoing.message:
        sealed = return_bundle.seal_message(outgoing.message, refcode.reply_key(code).public_key)
    return return_bundle.Update(refcode.lookup_id(code), outgoing.status, outgoing.decided, sealed)


def write(
    out: Path,
    keyring: Keyring,
    keyring_path: Path,
    target: Path,
    *,
    resend: bool = False,
    after: int = 0,
    expected: str | None = None,
) -> Reply:
    """Sign and write the return bundle (never over an existing file), then record what it sent.

    Everything is read and checked first; a problem raises before anything is written. With
    `expected` (a Prepared.digest() shown to the secretariat), a bundle that would carry anything
    else is refused (Changed).
    """
    out = Path(out)
    with ledger.locked(out):
        prepared = prepare(out, keyring_path, resend=resend, after=after)
        if expected is not None and prepared.digest() != expected:
            raise Changed("what the reply would carry has changed since it was shown; look at it again")
        book, chosen, sequence, today = prepared.book, prepared.plan, prepared.sequence, prepared.today
        updates = tuple(_update(o) for o in chosen.outgoing)
        bundle = return_bundle.ReturnBundle(sequence, today, updates, prepared.acks)
        write_atomic(
            Path(target), return_bundle.encode(bundle, keyring.current.sign), mode=0o600, replace=False
        )
        write_atomic(sequence_file(keyring_path), str(sequence).encode("ascii"), mode=0o600)
        for o in chosen.outgoing:
            book.codes[o.code] = ledger.Sent(o.status, o.message, o.decided, sequence)
        book.replies.append(
            {
                "sequence": sequence,
                "day": today,
                "file": Path(target).name,
                "updates": len(updates),
                "acks": len(bundle.acks),
                "resend": resend,
            }
        )
        ledger.save(out, book)
        # index.html shows what was sent
        pages.write_index(out, cases.read(out, prepared.found, cases.new_items(out)))
    return Reply(bundle, chosen, prepared.read_as)
