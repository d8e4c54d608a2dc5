"""The requests folder: one set of files per decrypt run, and a folder per request only for its files.

`requests/run-<N>.jsonl` holds the requests run N brought, one request.json per line, in the order
they came; `requests/run-<N>-page-<P>.html` shows their cases (pages.py); `requests/<item>/` holds a
request's attachments, and exists only when it has some (docs/formats.md, section 10f). Creating a
file costs more than decrypting an item on these machines, so a run writes a few files, not a few per
request. Folders holding a `request.json` are the earlier layout, one folder per request: read as they
are, and moved into the next run's file by decrypt.
"""

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from intake.formats.durable import fsync_dir, today_start
from intake.formats.payload import JSONObject

REQUESTS = "requests"
ITEM = re.compile(r"\A[0-9a-f]{32}\Z")  # a request's item id: its folder of files is named so
RUN = re.compile(r"\Arun-([1-9][0-9]{0,8})\.jsonl\Z")
ATTACHMENT = re.compile(r"\Aattachment-[0-9]{1,2}\.[a-z0-9]{1,5}\Z")  # the only names decrypt gives files
EARLIER = "request.json"  # a request's own file, in the earlier layout
TMP = ".tmp-"  # what decrypt is writing: a run's file, a request's files (removed if a run was killed)


def run_file(number: int) -> str:
    """The name of run `number`'s file of requests."""
    return f"run-{number}.jsonl"


def request_line(request: JSONObject) -> bytes:
    """One request as a line of a run's file: its request.json, compact (json's C encoder)."""
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _parsed(data: bytes) -> JSONObject | None:
    try:
        request = json.loads(data)
    except ValueError:
        return None
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("item"), str)
        or not ITEM.match(request["item"])
    ):
        return None
    return request


@dataclass
class Found:
    """Every request in the folder: the earlier layout's first, then each run's in the order it came."""

    requests: list[JSONObject] = field(default_factory=list)
    run: dict[str, int] = field(default_factory=dict)  # item -> the run that wrote it (0: the earlier layout)
    runs: list[int] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)  # items only the earlier layout's folders hold
    moved: list[str] = field(default_factory=list)  # earlier folders a run's file holds already
    unreadable: list[str] = field(default_factory=list)  # earlier folders whose request.json does not read
    problems: list[str] = field(default_factory=list)

    @property
    def next_run(self) -> int:
        """The number the next run's file takes."""
        return max(self.runs, default=0) + 1

    def wrote(self, number: int, new: list[JSONObject]) -> None:
        """Count in what run `number` wrote: the earlier layout's requests, moved, and `new` after them."""
        for item in self.earlier:
            self.run[item] = number
        for request in new:
            self.run[request["item"]] = number
            self.requests.append(request)
        self.requests.sort(key=lambda request: self.run[request["item"]])  # as read back: run by run
        self.runs.append(number)
        self.earlier = []


def read(out: Path) -> Found:
    """Read every request decrypted into `out`; what cannot be read is named in `problems`."""
    directory = Path(out) / REQUESTS
    found = Found()
    names = sorted(os.listdir(directory)) if directory.is_dir() else []
    found.runs = sorted(int(match[1]) for name in names if (match := RUN.match(name)))
    written: list[JSONObject] = []
    for number in found.runs:
        with open(directory / run_file(number), "rb") as f:
            for line_number, line in enumerate(f, 1):
                request = _parsed(line)
                if request is None:
                    found.problems.append(
                        f"{REQUESTS}/{run_file(number)} line {line_number}: holds no readable request; "
                        "not in the index"
                    )
                elif request["item"] not in found.run:  # written once; a second line would be a copy
                    found.run[request["item"]] = number
                    written.append(request)
    earlier: list[JSONObject] = []
    for name in names:  # the earlier layout: a folder per request, holding its request.json
        path = directory / name / EARLIER
        if not ITEM.match(name) or not os.path.lexists(path):
            continue
        if name in found.run:
            found.moved.append(name)
            continue
        try:
            request = _parsed(path.read_bytes())
        except OSError:
            request = None
        if request is None or request["item"] != name:
            found.unreadable.append(name)
            found.problems.append(f"{REQUESTS}/{name}: holds no readable {EARLIER}; not in the index")
        else:
            found.earlier.append(name)
            found.run[name] = 0
            earlier.append(request)
    found.requests = earlier + written
    return found


def decrypted_items(found: Found) -> list[str]:
    """Every item decrypted here, readable or not: what a reply acknowledges."""
    return sorted({*found.run, *found.unreadable})


def is_leftover(folder: Path) -> bool:
    """A request's folder of files that no run recorded: a run killed before it wrote its file."""
    try:
        return (
            folder.is_dir()
            and not folder.is_symlink()
            and all(ATTACHMENT.match(n) for n in os.listdir(folder))
        )
    except OSError:
        return False


def remove_leftovers(out: Path) -> None:
    """Remove what a run killed half-way was writing (the caller holds the folder's lock)."""
    directory = Path(out) / REQUESTS
    for name in os.listdir(directory):
        if name.startswith(TMP):
            path = directory / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


class Run:
    """The file of the requests one decrypt run brings, written as they come and named at the end."""

    def __init__(self, out: Path, number: int):
        self.directory, self.number = Path(out) / REQUESTS, number
        self.path = self.directory / run_file(number)
        self.tmp = self.directory / f"{TMP}{secrets.token_hex(8)}"
        self.file = os.fdopen(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self.count = 0

    def add(self, request: JSONObject) -> None:
        """Write one request into the run's file."""
        self.file.write(request_line(request))
        self.count += 1

    def commit(self) -> None:
        """Make the file durable under its name (never over another), or remove it if it holds nothing."""
        self.file.flush()
        if self.count:
            day = today_start()
            os.utime(self.file.fileno(), (day, day))
            os.fsync(self.file.fileno())
        self.file.close()
        if self.count:
            os.link(self.tmp, self.path)  # fails if the name is taken, unlike rename
        self.tmp.unlink()
        if self.count:
            fsync_dir(self.directory)

    def discard(self) -> None:
        """Remove the unfinished file."""
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def forget_earlier(out: Path, items: Iterable[str]) -> None:
    """After a run's file holds them: remove the earlier layout's request.json and request.html of
    these requests, and their folders when nothing else is left in them."""
    directory = Path(out) / REQUESTS
    for item in items:
        folder = directory / item
        for name in (EARLIER, "request.html"):
            (folder / name).unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()
    fsync_dir(directory)
