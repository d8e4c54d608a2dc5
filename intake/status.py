"""Status records: what the defender sees for a reference code, filed under its lookup id."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .fsutil import write_atomic

# The fixed set the secretariat chooses from; the web side translates each.
STATUSES = ("received", "in_review", "more_info", "referred", "accepted", "declined", "closed")
_NAME = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Status:
    """A request's status and the day it was set."""

    status: str
    day: str


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
        self.root.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"status": status.status, "day": status.day}).encode("ascii")
        write_atomic(self._path(lookup_id), data)

    def get(self, lookup_id: bytes) -> Status | None:
        """Return the status filed under a lookup id, or None if there is none."""
        try:
            fields = json.loads(self._path(lookup_id).read_bytes())
        except FileNotFoundError:
            return None
        return Status(fields["status"], fields["day"])
