"""Accepting a request: seal its Record, store it durably, record "received", then give the code."""

import datetime
from dataclasses import dataclass

from nacl.public import PublicKey

from intake.formats import item, refcode
from intake.server.dropbox import DropBox
from intake.server.statuses import Status, StatusStore


def today() -> str:
    """The day in UTC: the only time the server keeps about a request."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


@dataclass(frozen=True)
class Arrival:
    """A request as it reaches the drop box: its body Envelope, the form, where it was sealed
    ("browser" or "server"), and its sealed files waiting in staging (uploads.Staged)."""

    body: bytes
    form: str
    origin: str
    staged: tuple = ()


class Acceptor:
    """The one way into the drop box, on both paths (sealed in the browser or in server memory)."""

    def __init__(self, dropbox: DropBox, statuses: StatusStore):
        self.dropbox, self.statuses = dropbox, statuses

    def accept(self, arrival: Arrival, key: PublicKey) -> str:
        """Store a sealed body with its Record and staged files; return the code once on disk."""
        code = refcode.make()
        day = today()
        data = item.seal_item(arrival.body, item.Record(code, day, arrival.form, arrival.origin), key)
        # Status first: if the item then fails to store, the defender sees an error and no code, and
        # the orphan status belongs to a code nobody has. The other order could leave a request
        # stored behind an error page, inviting a duplicate.
        self.statuses.put(refcode.lookup_id(code), Status("received", day))
        self.dropbox.save_item(data, [s.path for s in arrival.staged])
        return code

    def seal_and_accept(self, payload: dict, key: PublicKey, staged: tuple = ()) -> str:
        """Seal a payload in memory (no JavaScript ran), with its files' keys, and accept it."""
        if staged:
            payload = {**payload, "attachments": [s.metadata() for s in staged]}
        return self.accept(Arrival(item.seal_body(payload, key), payload["form"], "server", staged), key)
