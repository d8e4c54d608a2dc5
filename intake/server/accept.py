"""Accepting a request: seal its Record, store it in one transaction with its "received" status
and its quota, then give the code."""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nacl.public import PublicKey

from intake.formats import item, refcode
from intake.formats.payload import JSONObject
from intake.server import statuses
from intake.server.limits import Quota
from intake.server.store import Full, Store, today


class StagedFile(Protocol):
    """A sealed file staged in the database while its request was arriving (web/uploads.py)."""

    @property
    def stream_id(self) -> bytes: ...

    @property
    def length(self) -> int:
        """The sealed stream's bytes, as stored."""

    def metadata(self) -> JSONObject:
        """The entry of the payload's "attachments" list: name, declared type, size, key."""


@dataclass(frozen=True)
class Arrival:
    """A request as it reaches the drop box: its body Envelope, the form, where it was sealed
    ("browser" or "server"), and its sealed files staged in the database."""

    body: bytes
    form: str
    origin: str
    staged: Sequence[StagedFile] = ()


class Acceptor:
    """The one way into the drop box, on both paths (sealed in the browser or in server memory)."""

    def __init__(self, store: Store, quota: Quota, mac_key: bytes):
        self.store, self.quota, self.mac_key = store, quota, mac_key

    def accept(self, arrival: Arrival, key: PublicKey) -> str:
        """Store a sealed body with its Record and staged files; return the code once committed.

        Raise store.Full, storing nothing, when the quota or the free disk cannot take it.
        """
        code = refcode.make()
        day = today()
        data = item.seal_item(arrival.body, item.Record(code, day, arrival.form, arrival.origin), key)
        streams = [(f.stream_id, f.length) for f in arrival.staged]
        if not self.quota.disk_has_room(len(data) + sum(length for _, length in streams)):
            raise Full()
        status = statuses.received(refcode.lookup_id(code), day, self.mac_key)
        self.store.accept(secrets.token_bytes(16), data, streams, status, self.quota.limit(bool(streams)))
        return code

    def seal_and_accept(self, payload: JSONObject, key: PublicKey, staged: Sequence[StagedFile] = ()) -> str:
        """Seal a payload in memory (no JavaScript ran), with its files' keys, and accept it."""
        if staged:
            payload = {**payload, "attachments": [f.metadata() for f in staged]}
        return self.accept(Arrival(item.seal_body(payload, key), payload["form"], "server", staged), key)
