"""A request's folder: built under a temporary name, renamed in whole, never over an earlier one."""

import json
import os
import secrets
import shutil
from typing import TYPE_CHECKING

from intake.formats import export_bundle
from intake.formats.payload import JSONObject
from intake.offline import attachments

if TYPE_CHECKING:  # decrypt imports this module; its Report is only named here
    from intake.offline.decrypt import Report


def _request_bytes(request: JSONObject) -> bytes:
    # Compact: json's C encoder is used only without indent, and request.html is for reading.
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class Pending:
    """A request whose folder is being built under a temporary name until its attachments are in.

    If an earlier run already wrote a folder under this id, nothing is written: the request is
    compared with the earlier one (attachments aside, whose files are already there) and the
    earlier one is kept either way.
    """

    def __init__(
        self, entry: export_bundle.Entry | export_bundle.BadEntry, request: JSONObject, requests_dir: str
    ):
        self.entry, self.request, self.requests_dir = entry, request, requests_dir
        self.announced: list[JSONObject] = request["request"].get("attachments", [])
        self.files: list[JSONObject] = []
        self.tmp: str | None = None  # the folder being built; None while an earlier run's is kept
        self.final = os.path.join(requests_dir, request["item"])
        if not os.path.lexists(self.final):
            self.tmp = os.path.join(requests_dir, f".tmp-{secrets.token_hex(8)}")
            os.mkdir(self.tmp, 0o700)

    def attach(self, entry: export_bundle.Entry | export_bundle.BadEntry) -> str | None:
        """Decrypt the next attachment stream; return a failure reason or None."""
        number = len(self.files) + 1
        if number > len(self.announced):
            return f"attachment {number} is not announced by its request; skipped"
        meta = self.announced[number - 1]
        if self.tmp is None:
            self.files.append({})  # the earlier run's folder is kept as it is; counted, not written
            return None
        if isinstance(entry, export_bundle.BadEntry):
            self.files.append({**_listed(meta), "file": None, "problem": entry.reason})
        else:
            self.files.append(attachments.decrypt_into(self.tmp, number, meta, entry.data))
        problem = self.files[-1].get("problem")
        return f"attachment {number}: {problem}" if problem else None

    def finish(self, report: "Report") -> tuple[JSONObject | None, list[str]]:
        """Write (or compare) the request; return it and the reasons anything failed."""
        if self.tmp is None:
            return self._compare(report)
        reasons = []
        for number in range(len(self.files) + 1, len(self.announced) + 1):
            meta = self.announced[number - 1]
            self.files.append({**_listed(meta), "file": None, "problem": "missing from the bundle"})
            reasons.append(f"attachment {number} is missing from the bundle")
        if self.announced:
            self.request["attachments"] = self.files
        try:
            # request.html comes once the run knows the whole case (decrypt.py, pages.py)
            _write_file(os.path.join(self.tmp, "request.json"), _request_bytes(self.request))
            os.rename(self.tmp, self.final)
        except BaseException:
            self.discard()
            raise
        report.written += 1
        return self.request, reasons

    def _compare(self, report: "Report") -> tuple[JSONObject | None, list[str]]:
        earlier = read_request(self.final)
        if earlier is None:
            return None, [
                "a folder with this id is already there and holds no readable request; left as it is"
            ]
        if _without_files(earlier) != _without_files(self.request):
            return None, ["an earlier, different request has the same id; kept the earlier one"]
        report.unchanged += 1
        return earlier, []

    def discard(self) -> None:
        """Remove a half-built folder."""
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _without_files(request: JSONObject) -> JSONObject:
    return {key: value for key, value in request.items() if key != "attachments"}


def read_request(folder: str) -> JSONObject | None:
    """The request.json an earlier run wrote into `folder`, or None if there is none to read."""
    try:
        with open(os.path.join(folder, "request.json"), "rb") as f:
            request = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return request if isinstance(request, dict) else None


def _listed(meta: JSONObject) -> JSONObject:
    return {"name": meta["name"], "type": meta["type"], "size": meta["size"]}
