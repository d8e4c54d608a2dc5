"""Turn an export bundle, treated as hostile input, into one folder per readable request."""

import os
import re
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path

from intake.formats import export_bundle, item, refcode
from intake.formats.durable import make_dir, write_atomic
from intake.formats.envelope import FormatError
from intake.formats.keyring import Keyring
from intake.formats.payload import JSONObject
from intake.formats.refcode import display
from intake.offline import cases, decisions, ledger, pages, render
from intake.offline.folder import Pending, read_request

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


def as_request(entry: export_bundle.Entry, opened: item.Opened) -> JSONObject:
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


def load_requests(
    out: Path, skip: Container[str] = frozenset(), report: Report | None = None
) -> list[JSONObject]:
    """Read back the requests earlier runs decrypted into `out`, except the ids in `skip`."""
    requests = []
    directory = out / REQUESTS
    for folder in sorted(directory.iterdir()) if directory.is_dir() else []:
        if folder.name in skip or not FOLDER.match(folder.name):
            continue
        request = read_request(str(folder))
        if request is not None:
            requests.append(request)
        elif report is not None:
            report.failures.append(
                f"{REQUESTS}/{folder.name}: holds no readable request.json; not in the index"
            )
    return requests


class _Opener:
    """Open entries in bundle order, refusing repeated ids and repeated sealed bodies."""

    def __init__(self, keyring: Keyring):
        self.keys = keyring.box_keys()
        self.ids: dict[bytes, int] = {}
        self.bodies: dict[str, int] = {}

    def __call__(self, entry: export_bundle.Entry | export_bundle.BadEntry) -> JSONObject:
        """Return the request.json of a good entry; raise FormatError naming what is wrong."""
        if entry.id in self.ids:
            raise FormatError(f"duplicate id of item {self.ids[entry.id]}; skipped")
        if isinstance(entry, export_bundle.BadEntry):
            # A damaged entry claims nothing (formats.md, section 9): otherwise one flipped bit,
            # or a crafted entry, would shut out the intact item that carries this id.
            raise FormatError(entry.reason)
        self.ids[entry.id] = entry.index
        opened = item.open_item(entry.data, self.keys)
        if opened.binding in self.bodies:
            raise FormatError(f"same sealed body as item {self.bodies[opened.binding]}; skipped")
        self.bodies[opened.binding] = entry.index
        return as_request(entry, opened)


def _unexpected(entry: export_bundle.Entry | export_bundle.BadEntry, error: Exception) -> str:
    # Only the error's type: its message could quote what the item holds.
    return (
        f"{entry.name}: could not be decrypted: unexpected {type(error).__name__} (a bug: please report it)"
    )


class _Run:
    """One pass over a bundle: each entry fails alone; only a full disk or the like stops the run.

    Hostile input is refused by the checks (FormatError, StreamError). Anything else raised while
    one item is handled is a bug: that item is reported and its half-built folder removed, and the
    run goes on. OSError (disk full, permissions) still stops it, since every later item would
    fail the same way.
    """

    def __init__(self, keyring: Keyring, requests_dir: str, report: Report):
        self.open_entry = _Opener(keyring)
        self.requests_dir, self.report = requests_dir, report
        self.pending: Pending | None = None
        self.requests: dict[str, JSONObject] = {}
        self.new: list[str] = []  # the items this run wrote

    def item(self, entry: export_bundle.Entry | export_bundle.BadEntry) -> None:
        """Finish the request before, then start this one (or report why it cannot be read)."""
        self.finish()
        try:
            self.pending = Pending(entry, self.open_entry(entry), self.requests_dir)
        except FormatError as e:
            self.report.failures.append(f"{entry.name}: {e}")
        except OSError:
            raise
        except Exception as e:
            self.report.failures.append(_unexpected(entry, e))

    def attachment(self, entry: export_bundle.Entry | export_bundle.BadEntry) -> None:
        """Decrypt an attachment into the request it follows."""
        pending = self.pending
        if pending is None or entry.id != pending.entry.id:
            self.report.failures.append(f"{entry.name}: an attachment with no request before it; skipped")
            return
        try:
            reason = pending.attach(entry)
        except Exception as e:
            self.pending = None
            pending.discard()
            if isinstance(e, OSError):
                raise
            self.report.failures.append(_unexpected(pending.entry, e))
            return
        if reason:
            self.report.failures.append(f"{pending.entry.name}: {reason}")

    def finish(self) -> None:
        """Write the pending request, if any."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        try:
            request, reasons = pending.finish(self.report)
        except Exception as e:
            pending.discard()
            if isinstance(e, OSError):
                raise
            self.report.failures.append(_unexpected(pending.entry, e))
            return
        if request is not None:
            self.requests[request["item"]] = request
            if pending.tmp is not None:  # written by this run, not kept from an earlier one
                self.new.append(request["item"])
        self.report.failures.extend(f"{pending.entry.name}: {reason}" for reason in reasons)


def decrypt_bundle(
    bundle_path: Path,
    keyring: Keyring,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
    lang: str = "en",
) -> Report:
    """Decrypt every item of a bundle into `out`; one bad item never stops the others. The pages
    show the site's questions in `lang`."""
    out = Path(out)
    make_dir(out / REQUESTS)  # plaintext lives here: the owner's alone, like every file in it
    make_dir(out)
    report = Report()
    with ledger.locked(out):  # reply, or a desk, may not change decisions.csv meanwhile
        _decrypt(bundle_path, keyring, out, progress, report, lang)
    return report


def _decrypt(
    bundle_path: Path,
    keyring: Keyring,
    out: Path,
    progress: Callable[[int, int], None] | None,
    report: Report,
    lang: str,
) -> None:
    run = _Run(keyring, str(out / REQUESTS), report)
    size = os.path.getsize(bundle_path)
    with open(bundle_path, "rb") as stream:
        try:
            for entry in export_bundle.read(stream):
                if entry.type == export_bundle.TYPE_ATTACHMENT:
                    run.attachment(entry)
                else:
                    run.item(entry)
                if progress:
                    progress(stream.tell(), size)
        except export_bundle.BundleError as e:
            report.failures.append(f"bundle: {e}")
        finally:
            run.finish()
    requests = list(run.requests.values()) + load_requests(out, skip=set(run.requests), report=report)
    write_atomic(out / "index.csv", render.index_csv(requests).encode("utf-8"), durable=False)
    if problem := decisions.prefill(out, requests):
        report.failures.append(problem)
    if run.new:
        cases.record_new(out, run.new)
    folder = cases.read(out, requests, cases.new_items(out))
    # A new request changes its whole case's pages (a follow-up joins the thread); a folder left
    # without its page (a run stopped half-way) gets one too.
    codes = {r["reference"] for r in requests if r["item"] in run.new}
    codes |= {r["reference"] for r in requests if not (out / REQUESTS / r["item"] / "request.html").exists()}
    pages.write_case_pages(out, folder, codes, lang)
    pages.write_index(out, folder, lang)
    os.sync()  # one sync for the whole run instead of one per file
