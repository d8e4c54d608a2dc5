"""Items opened by a second process as well as by the run, when the machine has a core for it.

Opening an item (two sealed boxes, the Record and body checks) takes about as long as all else
decrypt does with it (the bundle's checksums, the request's line), so on two cores a second
process opens items a little ahead of the run. It is forked: the secret keys reach it in memory,
never through a pipe. It reads the bundle file itself, checking each entry's checksum as the run
does; only what it opened crosses back, by the entry's place in the bundle. The run never waits
for it: an item it has not opened yet (or could not open) the run opens itself, and tells it so
that it moves on past. So the two share the work whatever their speeds, a failure is always the
run's own finding, reported once, and if the second process dies the run finishes alone.
Nothing is decided there.
"""

import collections
import contextlib
import multiprocessing
import os
import select
import struct
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

from nacl.public import PrivateKey

from intake.formats import export_bundle, item

SMALL = 64  # fewer items than this are opened by the run alone: starting a process would cost more
LEAD = 64  # entries the second process may read ahead of the run
SHARE = 3  # the run opens every third item itself, the second process the others (both are then
# about as busy: the run also reads, checks and writes every request)
WAIT = 0.002  # seconds the run waits for an item the second process is just opening
STOPPING = 5.0  # seconds the second process has to end once the run is over, before it is killed

# An order: read no further than this entry; the run opened up to this one. 16 bytes, so each write
# to the pipe is whole (under PIPE_BUF) and the run never waits to write one: if the pipe is full,
# the order is dropped, and the next carries the same news.
ORDER = struct.Struct(">QQ")


def helpers_wanted(count: int) -> int:
    """1 when a second process pays, else 0: enough items, `fork` available, and a core to spare (two
    or more, and the last minute's load average leaving one idle). On a busy machine the two
    processes' extra work (each reads the bundle) costs more than the second core gives."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    forks = "fork" in multiprocessing.get_all_start_methods()
    spare = cores - os.getloadavg()[0] >= 1
    return 1 if count >= SMALL and forks and cores >= 2 and spare else 0


def _second(path: Path, keys: dict[bytes, PrivateKey], orders: int, results: Connection) -> None:
    """Read the bundle; open each item the run has not reached, never more than LEAD ahead of it.
    The run closing `orders` means stop."""
    limit = reached = 0
    os.set_blocking(orders, False)
    # A BundleError the run meets too, and reports.
    with open(path, "rb") as stream, results, contextlib.suppress(export_bundle.BundleError):
        for entry in export_bundle.read(stream):
            while True:  # the run's latest orders; waiting for them only when too far ahead
                if entry.index > limit:
                    select.select([orders], [], [])
                try:
                    data = os.read(orders, 4096)
                except BlockingIOError:
                    break
                if not data:
                    return
                for order_limit, order_reached in ORDER.iter_unpack(data):
                    limit, reached = max(limit, order_limit), max(reached, order_reached)
            if (
                isinstance(entry, export_bundle.Entry)
                and entry.type == export_bundle.TYPE_ITEM
                and entry.index > reached
                and entry.index % SHARE
            ):
                with contextlib.suppress(Exception):  # the run opens it itself, and says why
                    results.send((entry.index, item.open_item(entry.data, keys)))


class Ahead:
    """What the second process opened, entry by entry, as the run reaches each (no process: nothing)."""

    def __init__(self, path: Path, keys: dict[bytes, PrivateKey], helpers: int):
        self.process: multiprocessing.process.BaseProcess | None = None
        self.opened: collections.deque[tuple[int, item.Opened]] = collections.deque()
        if not helpers:
            return
        context = multiprocessing.get_context("fork")
        # Two pipes, each end held by one process only: a closed end says "stop", or "it has ended
        # (or died)", at once. Orders are written straight from this thread (no queue's thread,
        # which would wait for the interpreter lock while the run computes).
        reader, self.orders = os.pipe()
        self.results, writer = context.Pipe(duplex=False)
        self.limit = self.reached = self.latest = 0
        self.process = context.Process(target=_second, args=(path, keys, reader, writer), daemon=True)
        self.process.start()
        os.close(reader)
        writer.close()
        os.set_blocking(self.orders, False)

    def opened_for(self, entry: export_bundle.Entry | export_bundle.BadEntry) -> item.Opened | None:
        """What opening this entry gave in the second process, or None for the run to open it."""
        if self.process is None or not isinstance(entry, export_bundle.Entry):
            return None
        found: item.Opened | None = None
        if entry.index % SHARE:
            self._receive()
            if self.latest >= entry.index - SHARE:  # it is at work about here: it may be opening this one
                deadline = time.monotonic() + WAIT
                while (
                    self.latest < entry.index
                    and self.process
                    and self.results.poll(max(0.0, deadline - time.monotonic()))
                ):
                    self._receive()
            while self.opened and self.opened[0][0] < entry.index:
                self.opened.popleft()  # one the run opened itself meanwhile
            if self.opened and self.opened[0][0] == entry.index:
                found = self.opened.popleft()[1]
            else:
                self.reached = entry.index  # the run opens it: the second process moves on past it
        if self.process is not None and (self.reached == entry.index or entry.index + LEAD // 2 > self.limit):
            self.limit = max(self.limit, entry.index + LEAD)
            with contextlib.suppress(BlockingIOError, BrokenPipeError):  # full: the next one tells
                os.write(self.orders, ORDER.pack(self.limit, self.reached))
        return found

    def _receive(self) -> None:
        """Take what the second process sent so far, without waiting; if it ended, go on alone."""
        try:
            while self.results.poll():
                self.opened.append(self.results.recv())
                self.latest = self.opened[-1][0]
        except (EOFError, OSError):  # it ended (it is done, or it died): the run opens the rest
            self._stop()

    def _stop(self) -> None:
        """Let the second process end (it may be reading a large entry), then end it if it has not."""
        if self.process is None:
            return
        process, self.process = self.process, None
        os.close(self.orders)
        deadline = time.monotonic() + STOPPING
        with contextlib.suppress(EOFError, OSError):  # the end of the pipe: it has ended
            while time.monotonic() < deadline:
                if self.results.poll(0.05):
                    self.results.recv()  # so that it is never stuck sending
                elif not process.is_alive():
                    break
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
        self.results.close()

    def __enter__(self) -> "Ahead":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Stop the second process, wherever it is."""
        self._stop()
