"""A request being decrypted: its attachments go into a folder of its own, made only when it announces
any, built under a temporary name and renamed in whole, never over an earlier request's."""

import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from intake.formats import export_bundle
from intake.formats.payload import JSONObject
from intake.offline import attachments, runs

if TYPE_CHECKING:  # decrypt imports this module; its Report is only named here
    from intake.offline.decrypt import Report

TAKEN = "a folder with this id is already there and holds no readable request; left as it is"


class Pending:
    """A request whose files are being decrypted, until the next item shows they are all in.

    If an earlier run already brought this id (`earlier`), nothing is written: the request is compared
    with the earlier one (attachments aside, whose files are already there) and the earlier one is
    kept either way. A folder under its id that no run recorded is a killed run's, and is replaced.
    """

    def __init__(
        self,
        entry: export_bundle.Entry | export_bundle.BadEntry,
        request: JSONObject,
        requests_dir: str,
        earlier: JSONObject | None,
    ):
        self.entry, self.request, self.earlier = entry, request, earlier
        self.announced: list[JSONObject] = request["request"].get("attachments", [])
        self.files: list[JSONObject] = []
        self.written: list[str] = []  # the files this request brought, under their final names
        self.final = os.path.join(requests_dir, request["item"])
        self.tmp: str | None = None  # the folder being built, when there are files to write
        self.taken = False  # something that is not a killed run's files holds the id's name
        if earlier is not None:
            return
        if os.path.lexists(self.final):
            if not runs.is_leftover(Path(self.final)):
                self.taken = True
                return
            shutil.rmtree(self.final)
        if self.announced:
            self.tmp = os.path.join(requests_dir, f"{runs.TMP}{secrets.token_hex(8)}")
            os.mkdir(self.tmp, 0o700)

    @property
    def new(self) -> bool:
        """True when this run writes the request (no earlier run brought it)."""
        return self.earlier is None and not self.taken

    def attach(self, entry: export_bundle.Entry | export_bundle.BadEntry) -> str | None:
        """Decrypt the next attachment stream; return a failure reason or None."""
        number = len(self.files) + 1
        if number > len(self.announced):
            return f"attachment {number} is not announced by its request; skipped"
        meta = self.announced[number - 1]
        if self.tmp is None:
            self.files.append({})  # the earlier run's files are kept as they are; counted, not written
            return None
        if isinstance(entry, export_bundle.BadEntry):
            self.files.append({**_listed(meta), "file": None, "problem": entry.reason})
        else:
            self.files.append(attachments.decrypt_into(self.tmp, number, meta, entry.data))
        problem = self.files[-1].get("problem")
        return f"attachment {number}: {problem}" if problem else None

    def finish(self, report: "Report") -> tuple[JSONObject | None, list[str]]:
        """Put the request's files in place (or compare it); return it and the reasons anything failed."""
        if self.earlier is not None:
            return self._compare(report)
        if self.taken:
            return None, [TAKEN]
        reasons = []
        for number in range(len(self.files) + 1, len(self.announced) + 1):
            meta = self.announced[number - 1]
            self.files.append({**_listed(meta), "file": None, "problem": "missing from the bundle"})
            reasons.append(f"attachment {number} is missing from the bundle")
        if self.announced:
            self.request["attachments"] = self.files
        written = [f["file"] for f in self.files if f.get("file")]
        if self.tmp is not None and not written:  # no file decrypted: no folder
            os.rmdir(self.tmp)
        elif self.tmp is not None:
            try:
                os.rename(self.tmp, self.final)
            except BaseException:
                self.discard()
                raise
            self.written = [os.path.join(self.final, file) for file in written]
        report.written += 1
        return self.request, reasons

    def _compare(self, report: "Report") -> tuple[JSONObject | None, list[str]]:
        assert self.earlier is not None
        if _without_files(self.earlier) != _without_files(self.request):
            return None, ["an earlier, different request has the same id; kept the earlier one"]
        report.unchanged += 1
        return self.earlier, []

    def discard(self) -> None:
        """Remove a half-built folder."""
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _without_files(request: JSONObject) -> JSONObject:
    return {key: value for key, value in request.items() if key != "attachments"}


def _listed(meta: JSONObject) -> JSONObject:
    return {"name": meta["name"], "type": meta["type"], "size": meta["size"]}
