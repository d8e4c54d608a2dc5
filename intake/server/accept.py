"""Accepting a request: seal it, store it durably, record "received", and only then give a code."""

import datetime

from nacl.public import PublicKey

from intake.formats import item, refcode
from intake.server.dropbox import DropBox
from intake.server.statuses import Status, StatusStore


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
    staged: list = (),
) -> str:
    """Store a sealed body with its Record and staged attachments; return the code once on disk."""
    code = refcode.make()
    day = today()
    data = item.seal_item(body_envelope, item.Record(code, day, form, origin), public_key)
    # Status first: if the item then fails to store, the defender sees an error and no code, and
    # the orphan status belongs to a code nobody has. The other order could leave a request
    # stored behind an error page, inviting a duplicate.
    statuses.put(refcode.lookup_id(code), Status("received", day))
    dropbox.save_item(data, [s.path for s in staged])
    return code


def accept_plaintext(
    payload: dict, public_key: PublicKey, dropbox: DropBox, statuses: StatusStore, staged: list = ()
) -> str:
    """Seal a payload in memory (no JavaScript ran), with its attachments' keys, and accept it."""
    if staged:
        payload = {**payload, "attachments": [s.metadata() for s in staged]}
    envelope = item.seal_body(payload, public_key)
    return accept(envelope, payload["form"], "server", public_key, dropbox, statuses, staged)
