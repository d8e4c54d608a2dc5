"""Status records: what the defender sees for a reference code, filed under its lookup id."""

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

from intake.formats.durable import make_dir, write_atomic
from intake.formats.return_bundle import STATUSES

_NAME = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Status:
    """A request's status, the day it was set, and the secretariat's message sealed to the code."""

    status: str
    day: str
    sealed_message: bytes | None = None


class StatusStore:
    """A folder of small JSON files named by lookup id: no code, no content, no time of day."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, lookup_id: bytes) -> Path:
        name = lookup_id.hex()
        if not _NAME.match(name):
            raise ValueError("not a lookup id")
        return self.root / name

    def put(self, lookup_id: bytes, status: Status) -> None:
        """Record a status durably."""
        if status.status not in STATUSES:
            raise ValueError("unknown status")
        make_dir(self.root)
        fields = {"status": status.status, "day": status.day}
        if status.sealed_message is not None:
            fields["message"] = base64.b64encode(status.sealed_message).decode("ascii")
        write_atomic(self._path(lookup_id), json.dumps(fields).encode("ascii"))

    def get(self, lookup_id: bytes) -> Status | None:
        """Return the status filed under a lookup id, or None if there is none."""
        try:
            fields = json.loads(self._path(lookup_id).read_bytes())
        except FileNotFoundError:
            return None
        message = fields.get("message")
        return Status(fields["status"], fields["day"], base64.b64decode(message) if message else None)
