"""Items opened ahead of the run by a second process, when the machine has a core for it.

Opening an item (two sealed boxes, the Record and body checks) takes about as long as all else
decrypt does with it (the bundle's checksums, the request's line, its page), so on two cores one
process opens while the other writes. The second process is forked: the secret keys reach it in
memory, never through a pipe. It reads the bundle file itself, checking each entry's checksum as
the run does, and opens the items a little ahead of the run; only what it opened crosses back,
by the entry's place in the bundle. Every item it could not open the run opens itself, so a
failure is always the run's own finding, reported once. Nothing is decided there.
"""

import collections
import contextlib
import multiprocessing
import os
import queue
from pathlib import Path
from types import TracebackType

from nacl.public import PrivateKey

from intake.formats import export_bundle, item

SMALL = 64  # fewer items than this are opened by the run: starting a process would cost more
LEAD = 64  # entries the second process may read ahead of the run
BATCH = 16  # items opened to a message
END = 2**63  # "read to the end of the bundle", in a message's `upto`


class SecondProcessStopped(Exception):
    """The process opening items ahead stopped (killed, out of memory): the run stops, keeping nothing."""


def helpers_wanted(count: int) -> int:
    """1 when a second process pays (two cores to run on, enough items, fork available), else 0."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    forks = "fork" in multiprocessing.get_all_start_methods()
    return 1 if cores >= 2 and count >= SMALL and forks else 0


Message = tuple[list[tuple[int, item.Opened]], int]  # items opened (by index), and the last index read


def _second(
    path: Path,
    keys: dict[bytes, PrivateKey],
    allowed: "multiprocessing.Queue[int | None]",
    results: "multiprocessing.Queue[Message]",
) -> None:
    """Read the bundle and open its items, never more than the run allowed ahead of it."""
    limit, last = 0, 0
    opened: list[tuple[int, item.Opened]] = []
    with open(path, "rb") as stream:
        try:
            for entry in export_bundle.read(stream):
                while entry.index > limit:
                    results.put((opened, last))
                    opened, granted = [], allowed.get()
                    if granted is None:
                        return
                    limit = granted
                last = entry.index
                if isinstance(entry, export_bundle.Entry) and entry.type == export_bundle.TYPE_ITEM:
                    with contextlib.suppress(Exception):  # the run opens it again itself, and says why
                        opened.append((entry.index, item.open_item(entry.data, keys)))
                    if len(opened) == BATCH:
                        results.put((opened, last))
                        opened = []
        except export_bundle.BundleError:
            pass  # the run meets it too, and reports it
    results.put((opened, END))


class Ahead:
    """What the second process opened, entry by entry, as the run reaches each (no process: nothing)."""

    def __init__(self, path: Path, keys: dict[bytes, PrivateKey], helpers: int):
        self.process: multiprocessing.process.BaseProcess | None = None
        if not helpers:
            return
        # Queues, not a bare pipe: each side's writes go through a thread of its own, so neither
        # process ever waits for the other to read.
        context = multiprocessing.get_context("fork")
        self.allowed: multiprocessing.Queue[int | None] = context.Queue()
        self.results: multiprocessing.Queue[Message] = context.Queue()
        self.opened: collections.deque[tuple[int, item.Opened]] = collections.deque()
        self.limit = self.read = 0
        self.process = context.Process(target=_second, args=(path, keys, self.allowed, self.results))
        self.process.daemon = True
        self.process.start()

    def opened_for(self, entry: export_bundle.Entry | export_bundle.BadEntry) -> item.Opened | None:
        """What opening this entry gave in the second process, or None for the run to open it."""
        if self.process is None or not isinstance(entry, export_bundle.Entry):
            return None
        if entry.index + LEAD // 2 > self.limit:
            self.limit = entry.index + LEAD
            self.allowed.put(self.limit)
        while self.read < entry.index:
            self._receive()
        if not self.opened or self.opened[0][0] != entry.index:
            return None  # it could not open this one
        return self.opened.popleft()[1]

    def _receive(self) -> None:
        assert self.process is not None
        while True:
            try:
                opened, self.read = self.results.get(timeout=5)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise SecondProcessStopped(
                        "the second process opening items stopped, so this run stopped and recorded "
                        "nothing; run decrypt again"
                    ) from None
        self.opened.extend(opened)

    def __enter__(self) -> "Ahead":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Stop the second process, wherever it is, reading what it still sends so that it can end."""
        if self.process is None:
            return
        self.allowed.put(None)
        for _ in range(50):
            with contextlib.suppress(queue.Empty):
                self.results.get(timeout=0.1)
            if not self.process.is_alive():
                break
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        for q in (self.allowed, self.results):
            q.cancel_join_thread()  # what a stopped run left unread is not waited for
            q.close()
