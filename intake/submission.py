"""Accepting a request: seal it, store it durably, record "received", and only then give a code."""

import datetime

from nacl.public import PublicKey

from . import item, refcode
from .dropbox import DropBox
from .status import Status, StatusStore


def today() -> str:
    """The day in UTC: the only time the server keeps about a request."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def accept(
    body_envelope: bytes,
    form: str,
    origin: str,
    public_key: PublicKey,
    dropbox: DropBox,
    statuses: StatusStore,
) -> str:
    """Store a sealed body with its Record; return the new reference code once both are on disk."""
    code = refcode.make()
    day = today()
    data = item.seal_item(body_envelope, item.Record(code, day, form, origin), public_key)
    # Status first: if the item then fails to store, the defender sees an error and no code, and
    # the orphan status belongs to a code nobody has. The other order could leave a request
    # stored behind an error page, inviting a duplicate.
    statuses.put(refcode.lookup_id(code), Status("received", day))
    dropbox.save_item(data)
    return code


def accept_plaintext(payload: dict, public_key: PublicKey, dropbox: DropBox, statuses: StatusStore) -> str:
    """Seal a payload in memory (no JavaScript ran) and accept it."""
    envelope = item.seal_body(payload, public_key)
    return accept(envelope, payload["form"], "server", public_key, dropbox, statuses)
