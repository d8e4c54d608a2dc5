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
from . import decisions, render
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


def _write_request(requests_dir: str, request: dict, data: bytes) -> None:
    # Build the folder under a temporary name and rename it whole: a request is there
    # complete or not at all, even if the tool is interrupted.
    tmp = os.path.join(requests_dir, f".tmp-{secrets.token_hex(8)}")
    os.mkdir(tmp, 0o700)
    try:
        _write_file(os.path.join(tmp, "request.json"), data)
        _write_file(os.path.join(tmp, "request.html"), render.request_html(request).encode("utf-8"))
        os.rename(tmp, os.path.join(requests_dir, request["item"]))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _store(requests_dir: str, request: dict, report: Report) -> str | None:
    """Write a request unless an identical one is there; return a failure reason or None."""
    data = _request_bytes(request)
    existing = os.path.join(requests_dir, request["item"], "request.json")
    if os.path.exists(existing):
        with open(existing, "rb") as f:
            if f.read() != data:
                return "an earlier, different request has the same id; kept the earlier one"
        report.unchanged += 1
        return None
    _write_request(requests_dir, request, data)
    report.written += 1
    return None


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
    size = os.path.getsize(bundle_path)
    with open(bundle_path, "rb") as stream:
        try:
            for entry in bundle.read(stream):
                try:
                    request = open_entry(entry)
                    reason = _store(requests_dir, request, report)
                except FormatError as e:
                    reason = str(e)
                if reason:
                    report.failures.append(f"{entry.name}: {reason}")
                else:
                    this_run[request["item"]] = request
                if progress:
                    progress(stream.tell(), size)
        except bundle.BundleError as e:
            report.failures.append(f"bundle: {e}")
    requests = list(this_run.values()) + load_requests(out, skip=set(this_run))
    write_atomic(out / "index.html", render.index_html(requests).encode("utf-8"), durable=False)
    write_atomic(out / "index.csv", render.index_csv(requests).encode("utf-8"), durable=False)
    decisions.prefill(out, requests)
    os.sync()  # one sync for the whole run instead of one per file
    return report
