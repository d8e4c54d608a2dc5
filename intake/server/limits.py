"""Flood control without addresses: global rates, a storage quota, and a floor of free disk.

Everything arrives from the local tor daemon, so nothing here looks at who is asking. Each
gunicorn worker enforces its share of the global rate (rate / workers), so the limits hold
without shared state, and Tor's onion-service proof-of-work slows floods before they arrive.
"""

import os
import shutil
import threading
import time
from pathlib import Path


class TokenBucket:
    """Allow `per_minute` events a minute on average, in bursts of at most `burst`."""

    def __init__(self, per_minute: float, burst: int):
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    @classmethod
    def per_minute(cls, rate: float) -> "TokenBucket":
        """A bucket that allows bursts of ten seconds' worth of the rate (at least one)."""
        return cls(rate, max(1, int(rate / 6)))

    def allow(self) -> bool:
        """Take one token if there is one."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Quota:
    """Whether the drop box may take another request: under its quota, and the disk not nearly full.

    The last `text_reserve_bytes` of the quota are kept for requests without files, so a flood of
    large uploads can fill the rest but never stop a short, urgent request (docs/operator.md).
    """

    def __init__(
        self,
        dropbox_dir: Path,
        quota_bytes: int,
        min_free_bytes: int,
        recount_seconds: float = 10.0,
        text_reserve_bytes: int = 0,
    ):
        self.dropbox_dir = Path(dropbox_dir)
        self.quota, self.min_free = quota_bytes, min_free_bytes
        self.text_reserve = min(text_reserve_bytes, quota_bytes)
        self.recount_seconds = recount_seconds
        self.used = 0
        self.counted_at = -recount_seconds
        self.lock = threading.Lock()

    def _usage(self) -> int:
        # Counting thousands of files on every request would cost more than the request: recount
        # at most every few seconds, and add what this worker stores in between.
        if time.monotonic() - self.counted_at >= self.recount_seconds:
            self.used = sum(map(_size, os.scandir(self.dropbox_dir))) if self.dropbox_dir.is_dir() else 0
            self.counted_at = time.monotonic()
        return self.used

    def room_for(self, size: int, with_files: bool = False) -> bool:
        """True if `size` more bytes fit under the quota (less the text reserve, for a request with
        files) and above the free-space floor."""
        probe = self.dropbox_dir if self.dropbox_dir.is_dir() else self.dropbox_dir.parent
        free = shutil.disk_usage(probe).free
        limit = self.quota - self.text_reserve if with_files else self.quota
        with self.lock:
            return self._usage() + size <= limit and free - size >= self.min_free

    def stored(self, size: int) -> None:
        """Count what was just stored."""
        with self.lock:
            self.used += size


def _size(entry: os.DirEntry) -> int:
    # Another worker's temporary file can vanish between the listing and the stat.
    try:
        return entry.stat().st_size
    except FileNotFoundError:
        return 0
