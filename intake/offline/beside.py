"""Work a second process does beside the run, on a machine with two cores (decrypt's pages).

The process is forked, so it sees the run's memory as it was when it started (the cases, read
once), and gives back only what the work returned. An OSError there (a full disk) is raised here
as it was raised there. If the process dies, or fails in any other way, the work is done here.
"""

import contextlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

T = TypeVar("T")


def _work(work: Callable[[], T], results: Connection) -> None:
    with results:
        try:
            results.send(("done", work()))
        except OSError as e:
            results.send(("oserror", (e.errno, e.strerror, e.filename)))
        except Exception:  # anything else is done again by the run, which reports it as it would
            results.send(("failed", None))


class Beside(Generic[T]):
    """`work()` started in a second process when `helpers` is 1 (else when its result is asked for)."""

    def __init__(self, work: Callable[[], T], helpers: int):
        self.work = work
        self.process: multiprocessing.process.BaseProcess | None = None
        if helpers:
            context = multiprocessing.get_context("fork")
            self.results, writer = context.Pipe(duplex=False)
            self.process = context.Process(target=_work, args=(work, writer), daemon=True)
            self.process.start()
            writer.close()  # its only writer is the second process: its end is seen at once

    def result(self) -> T:
        """What the work returned (waiting for the second process to finish it)."""
        if self.process is None:
            return self.work()
        answer = None
        with contextlib.suppress(EOFError, OSError), self.results:  # it died: done here instead
            answer = self.results.recv()
        self.process.join()
        if answer is not None and answer[0] == "oserror":
            raise OSError(*answer[1])
        return answer[1] if answer is not None and answer[0] == "done" else self.work()
