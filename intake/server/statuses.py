"""Statuses as the server files them and shows them: each carries a proof, checked at every lookup.

A status the secretariat decided carries the secretariat's own signature (return bundle version
2), so a status written into the database by anyone else is never shown. The server itself only
ever says "received" (and files statuses from version 1 bundles, whose signature it checked when
it imported them); those carry a MAC under a key derived from the server's secret, which is kept
in the settings or the data folder, never in the database.
"""

import hashlib
import hmac

from nacl.signing import SigningKey, VerifyKey

from intake.formats.return_bundle import STATUSES, Update
from intake.server.store import StatusRow

MAC_PERSON = b"intake.status.m1"
MAC_SIZE = 32
# What a lookup checks when there is no status to check, so that every lookup does the same work.
_STAND_IN_KEY = SigningKey(bytes(32))
STAND_IN = Update(bytes(32), "received", "2026-01-01").signed(_STAND_IN_KEY)


def mac_key(secret: bytes) -> bytes:
    """The key of the server's own proofs, derived from its secret for this purpose alone."""
    return hashlib.blake2b(secret, digest_size=32, person=MAC_PERSON).digest()


def _mac(key: bytes, update: Update) -> bytes:
    return hashlib.blake2b(update.signed_bytes(), key=key, digest_size=MAC_SIZE).digest()


def as_update(row: StatusRow) -> Update:
    """The stored status as the bundle carried it (the signature is the proof, when it is one)."""
    signature = row.proof if len(row.proof) != MAC_SIZE else None
    return Update(row.lookup, row.status, row.day, row.message, signature)


def from_update(update: Update, key: bytes) -> StatusRow:
    """A status from a return bundle: its own signature (version 2), else the server's MAC."""
    proof = update.signature if update.signature is not None else _mac(key, update)
    return StatusRow(update.lookup_id, update.status, update.day, update.sealed_message, proof)


def received(lookup: bytes, day: str, key: bytes) -> StatusRow:
    """The server's own status for a new request."""
    return from_update(Update(lookup, "received", day), key)


def verified(row: StatusRow | None, verify_keys: list[VerifyKey], key: bytes) -> bool:
    """True if the row is a status the secretariat signed, or one the server filed itself.

    Every call checks one signature and one MAC, whatever the row, so that a lookup takes the
    same time for an unknown code, a "received" and a decided status.
    """
    update = as_update(row) if row is not None else STAND_IN
    if row is not None and row.status not in STATUSES:
        return False
    signed = update.verifies(verify_keys) if update.signature is not None else False
    expected = _mac(key, update)
    if update.signature is None:
        STAND_IN.verifies([_STAND_IN_KEY.verify_key])
        return row is not None and hmac.compare_digest(expected, row.proof)
    return row is not None and signed
