"""Turn an export bundle, treated as hostile input, into one folder per readable request."""

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import bundle, item, refcode
from ..crypto import FormatError
from ..fsutil import write_atomic
from ..refcode import display
from . import decisions, files, render
from .keyring import Keyring

REQUESTS = "requests"
FOLDER = re.compile(r"\A[0-9a-f]{32}\Z")  # the only names decrypt ever creates


@dataclass
class Report:
    """What a run did: requests written, requests already there, and one line per failure."""

    written: int = 0
    unchanged: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every item of the bundle was decrypted (now or in an earlier run)."""
        return not self.failures


def as_request(entry: bundle.Entry, opened: item.Opened) -> dict:
    """The machine-readable request.json of one item; "request" is the payload as sent.

    A follow-up is filed under the code the defender typed into it (its Record's code is a
    fresh one nobody was shown), so it sits beside the request it adds to.
    """
    reference = opened.record.reference
    if opened.record.form == "followup":
        try:
            reference = refcode.normalise(opened.payload["fields"].get("reference_code", ""))
        except refcode.InvalidCode:
            raise FormatError("follow-up carries no valid reference code") from None
    return {
        "item": entry.id.hex(),
        "reference": display(reference),
        "received": opened.record.day,
        "form": opened.record.form,
        "origin": opened.record.origin,
        "key_id": opened.key_id.hex(),
        "request": opened.payload,
    }


def _request_bytes(request: dict) -> bytes:
    # Compact: json's C encoder is used only without indent, and request.html is for reading.
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def load_requests(out: Path, skip: set[str] = frozenset()) -> list[dict]:
    """Read back the requests earlier runs decrypted into `out`, except the ids in `skip`."""
    requests = []
    directory = out / REQUESTS
    for folder in sorted(directory.iterdir()) if directory.is_dir() else []:
        if folder.name not in skip and FOLDER.match(folder.name) and (folder / "request.json").is_file():
            requests.append(json.loads((folder / "request.json").read_bytes()))
    return requests


class _Opener:
    """Open entries in bundle order, refusing repeated ids and repeated sealed bodies."""

    def __init__(self, keyring: Keyring):
        self.keys = keyring.box_keys()
        self.ids: dict[bytes, int] = {}
        self.bodies: dict[str, int] = {}

    def __call__(self, entry) -> dict:
        """Return the request.json of a good entry; raise FormatError naming what is wrong."""
        if entry.id in self.ids:
            raise FormatError(f"duplicate id of item {self.ids[entry.id]}; skipped")
        self.ids[entry.id] = entry.index
        if isinstance(entry, bundle.BadEntry):
            raise FormatError(entry.reason)
        opened = item.open_item(entry.data, self.keys)
        if opened.binding in self.bodies:
            raise FormatError(f"same sealed body as item {self.bodies[opened.binding]}; skipped")
        self.bodies[opened.binding] = entry.index
        return as_request(entry, opened)


class _Pending:
    """A request whose folder is being built under a temporary name until its attachments are in."""

    def __init__(self, entry, request: dict, requests_dir: str):
        self.entry, self.request, self.requests_dir = entry, request, requests_dir
        self.announced = request["request"].get("attachments", [])
        self.files: list[dict] = []
        self.data = None
        self.tmp = None
        final = os.path.join(requests_dir, request["item"])
        self.exists = os.path.exists(os.path.join(final, "request.json"))
        if not self.exists:
            self.tmp = os.path.join(requests_dir, f".tmp-{secrets.token_hex(8)}")
            os.mkdir(self.tmp, 0o700)

    def attach(self, entry) -> str | None:
        """Decrypt the next attachment stream; return a failure reason or None."""
        number = len(self.files) + 1
        if number > len(self.announced):
            return f"attachment {number} is not announced by its request; skipped"
        meta = self.announced[number - 1]
        if isinstance(entry, bundle.BadEntry):
            self.files.append({**_listed(meta), "file": None, "problem": entry.reason})
        elif self.exists:
            self.files.append({})  # decrypted by an earlier run; counted, not written again
            return None
        else:
            self.files.append(files.decrypt_into(self.tmp, number, meta, entry.data))
        problem = self.files[-1].get("problem")
        return f"attachment {number}: {problem}" if problem else None

    def finish(self, report: Report) -> tuple[dict | None, list[str]]:
        """Write (or compare) the request; return it and the reasons anything failed."""
        reasons = []
        for number in range(len(self.files) + 1, len(self.announced) + 1):
            meta = self.announced[number - 1]
            self.files.append({**_listed(meta), "file": None, "problem": "missing from the bundle"})
            reasons.append(f"attachment {number} is missing from the bundle")
        existing = self._existing() if self.exists else None
        if self.announced:
            self.request["attachments"] = json.loads(existing)["attachments"] if existing else self.files
        data = _request_bytes(self.request)
        if self.exists:
            if existing != data:
                return None, ["an earlier, different request has the same id; kept the earlier one"]
            report.unchanged += 1
            return self.request, reasons
        try:
            _write_file(os.path.join(self.tmp, "request.json"), data)
            _write_file(
                os.path.join(self.tmp, "request.html"), render.request_html(self.request).encode("utf-8")
            )
            os.rename(self.tmp, os.path.join(self.requests_dir, self.request["item"]))
        except BaseException:
            self.discard()
            raise
        report.written += 1
        return self.request, reasons

    def _existing(self) -> bytes:
        with open(os.path.join(self.requests_dir, self.request["item"], "request.json"), "rb") as f:
            return f.read()

    def discard(self) -> None:
        """Remove a half-built folder."""
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _listed(meta: dict) -> dict:
    return {"name": meta["name"], "type": meta["type"], "size": meta["size"]}


def decrypt_bundle(
    bundle_path: Path,
    keyring: Keyring,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Decrypt every item of a bundle into `out`; one bad item never stops the others."""
    out = Path(out)
    (out / REQUESTS).mkdir(parents=True, exist_ok=True)
    requests_dir = str(out / REQUESTS)
    report = Report()
    this_run: dict[str, dict] = {}
    open_entry = _Opener(keyring)
    pending: _Pending | None = None
    size = os.path.getsize(bundle_path)

    def finish():
        request, reasons = pending.finish(report)
        if request is not None:
            this_run[request["item"]] = request
        report.failures.extend(f"{pending.entry.name}: {reason}" for reason in reasons)

    with open(bundle_path, "rb") as stream:
        try:
            for entry in bundle.read(stream):
                if entry.type == bundle.TYPE_ATTACHMENT:
                    if pending is None or entry.id != pending.entry.id:
                        report.failures.append(
                            f"{entry.name}: an attachment with no request before it; skipped"
                        )
                    elif reason := pending.attach(entry):
                        report.failures.append(f"{pending.entry.name}: {reason}")
                else:
                    if pending is not None:
                        finish()
                        pending = None
                    try:
                        pending = _Pending(entry, open_entry(entry), requests_dir)
                    except FormatError as e:
                        report.failures.append(f"{entry.name}: {e}")
                if progress:
                    progress(stream.tell(), size)
        except bundle.BundleError as e:
            report.failures.append(f"bundle: {e}")
        finally:
            if pending is not None:
                finish()
    requests = list(this_run.values()) + load_requests(out, skip=set(this_run))
    write_atomic(out / "index.html", render.index_html(requests).encode("utf-8"), durable=False)
    write_atomic(out / "index.csv", render.index_csv(requests).encode("utf-8"), durable=False)
    decisions.prefill(out, requests)
    os.sync()  # one sync for the whole run instead of one per file
    return report
