"""The quota, its reserve for requests without files, and a floor of free disk.

Everything arrives from the local tor daemon, so nothing here looks at who is asking. The rates
are counted in the database (store.Store.allow), shared by every worker and every machine.
"""

import shutil
from pathlib import Path


class Quota:
    """How much the drop box may hold: the last `text_reserve_bytes` of it are kept for requests
    without files, so a flood of large uploads never stops a short, urgent request; and the disk
    the database is on (when it is on this machine) keeps `min_free_bytes` free."""

    def __init__(
        self, quota_bytes: int, min_free_bytes: int, text_reserve_bytes: int = 0, disk: Path | None = None
    ):
        self.quota, self.min_free = quota_bytes, min_free_bytes
        self.text_reserve = min(text_reserve_bytes, quota_bytes)
        self.disk = disk

    def limit(self, with_files: bool) -> int:
        """The most the drop box may hold after accepting a request with (or without) files."""
        return self.quota - self.text_reserve if with_files else self.quota

    def disk_has_room(self, size: int) -> bool:
        """True if `size` more bytes leave the floor of free disk (always, for a remote database)."""
        if self.disk is None:
            return True
        return shutil.disk_usage(self.disk).free - size >= self.min_free
