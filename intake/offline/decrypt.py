"""Turn an export bundle, treated as hostile input, into readable requests: one run's file of them,
their pages, and a folder for each request's attachments (runs.py says why so few files)."""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from intake.formats import export_bundle, item, refcode
from intake.formats.durable import make_dir, sync, write_atomic
from intake.formats.envelope import FormatError
from intake.formats.keyring import Keyring
from intake.formats.payload import JSONObject
from intake.formats.refcode import display
from intake.offline import beside, cases, decisions, ledger, opening, pages, render, runs
from intake.offline.folder import Pending
from intake.offline.runs import REQUESTS


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


class _Opener:
    """Open entries in bundle order, refusing repeated ids and repeated sealed bodies."""

    def __init__(self, keyring: Keyring):
        self.keys = keyring.box_keys()
        self.ids: dict[bytes, int] = {}
        self.bodies: dict[str, int] = {}

    def __call__(
        self, entry: export_bundle.Entry | export_bundle.BadEntry, ahead: item.Opened | None = None
    ) -> JSONObject:
        """Return the request.json of a good entry (`ahead`: the item, if a second process opened
        it already); raise FormatError naming what is wrong."""
        if entry.id in self.ids:
            raise FormatError(f"duplicate id of item {self.ids[entry.id]}; skipped")
        if isinstance(entry, export_bundle.BadEntry):
            # A damaged entry claims nothing (formats.md, section 9): otherwise one flipped bit,
            # or a crafted entry, would shut out the intact item that carries this id.
            raise FormatError(entry.reason)
        self.ids[entry.id] = entry.index
        opened = ahead or item.open_item(entry.data, self.keys)
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

    def __init__(self, keyring: Keyring, out: Path, found: runs.Found, report: Report):
        self.open_entry = _Opener(keyring)
        self.requests_dir, self.report = str(out / REQUESTS), report
        self.known = {r["item"]: r for r in found.requests}
        self.file = runs.Run(out, found.next_run)
        self.pending: Pending | None = None
        self.new: list[JSONObject] = []  # the requests this run wrote
        self.files: list[Path] = []  # their attachments, to be made durable before the run's file

    def item(self, entry: export_bundle.Entry | export_bundle.BadEntry, ahead: item.Opened | None) -> None:
        """Finish the request before, then start this one (or report why it cannot be read)."""
        self.finish()
        try:
            request = self.open_entry(entry, ahead)
            self.pending = Pending(entry, request, self.requests_dir, self.known.get(request["item"]))
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
        if request is not None and pending.new:
            self.file.add(request)
            self.new.append(request)
            self.files += map(Path, pending.written)
        self.report.failures.extend(f"{pending.entry.name}: {reason}" for reason in reasons)


def decrypt_bundle(
    bundle_path: Path,
    keyring: Keyring,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
    lang: str = "en",
    helpers: int | None = None,
) -> Report:
    """Decrypt every item of a bundle into `out`; one bad item never stops the others. The pages
    show the site's questions in `lang`. A second process shares the work when `helpers` is 1, or
    when it is None and it pays (`opening.helpers_wanted`: a core to spare, and enough items)."""
    out = Path(out)
    make_dir(out / REQUESTS)  # plaintext lives here: the owner's alone, like every file in it
    make_dir(out)
    report = Report()
    if helpers is None:
        helpers = opening.helpers_wanted(os.path.getsize(bundle_path) // item.ITEM_SIZE)  # about its items
    with ledger.locked(out):  # reply, or a desk, may not change decisions.csv meanwhile
        _decrypt(bundle_path, keyring, out, progress, report, lang, helpers)
    return report


def _decrypt(
    bundle_path: Path,
    keyring: Keyring,
    out: Path,
    progress: Callable[[int, int], None] | None,
    report: Report,
    lang: str,
    helpers: int,
) -> None:
    runs.remove_leftovers(out)  # what a run killed half-way was writing
    found = runs.read(out)
    report.failures.extend(found.problems)
    run = _Run(keyring, out, found, report)
    for request in found.requests:  # the earlier layout's requests move into this run's file
        if found.run[request["item"]] == 0:
            run.file.add(request)
    size = os.path.getsize(bundle_path)
    try:
        with (
            open(bundle_path, "rb") as stream,
            opening.Ahead(bundle_path, run.open_entry.keys, helpers) as ahead,
        ):
            try:
                for entry in export_bundle.read(stream):
                    if entry.type == export_bundle.TYPE_ATTACHMENT:
                        run.attachment(entry)
                    else:
                        run.item(entry, ahead.opened_for(entry))
                    if progress:
                        progress(stream.tell(), size)
            except export_bundle.BundleError as e:
                report.failures.append(f"bundle: {e}")
            finally:
                run.finish()
        # Only what this run wrote is synced, never the whole system: the files first, then the
        # run's file that names them; then the earlier layout's copies can go.
        sync(run.files, [out / REQUESTS])
        run.file.commit()
    except BaseException:
        run.file.discard()
        raise
    runs.forget_earlier(out, found.earlier + found.moved)
    if run.file.count:
        found.wrote(run.file.number, run.new)
    _write_pages(out, found, {r["item"] for r in run.new}, report, lang, helpers)


def _write_pages(
    out: Path, found: runs.Found, new: set[str], report: Report, lang: str, helpers: int
) -> None:
    """The new rows of decisions.csv, the pages of the cases that changed (by the second process,
    if there is one), index.csv and index.html."""
    requests = found.requests
    if problem := decisions.prefill(out, requests):
        report.failures.append(problem)
    if new:
        cases.record_new(out, sorted(new))
    folder = cases.read(out, found, cases.new_items(out))
    # A new request changes its whole case's page (a follow-up joins the thread); a page missing
    # (a run stopped half-way, or requests of the earlier layout just moved) is written too.
    codes = {r["reference"] for r in requests if r["item"] in new}
    written = beside.Beside(lambda: pages.write_run_pages(out, folder, codes, lang), helpers)
    placed = pages.homes(folder)
    shown = {r["item"]: f"{REQUESTS}/{placed[r['reference']].page}" for r in requests}
    write_atomic(out / "index.csv", render.index_csv(requests, shown).encode("utf-8"))
    pages.write_index(out, folder, lang)
    sync(written.result())
    runs.remove_leftovers(out)  # a page a killed second process was writing
