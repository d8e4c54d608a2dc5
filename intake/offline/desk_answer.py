"""The desk's answer page: exactly what the next return bundle carries, then the bundle itself.

The preview is reply.prepare(), what `intake-offline reply` runs; writing is reply.write(), told
the preview's digest so that it refuses a bundle that would carry anything else.
"""

import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from intake.formats.durable import make_dir
from intake.formats.keyring import KeyringError, load
from intake.offline import cases, plan, questions, readable, reply
from intake.offline.decisions import DecisionError
from intake.offline.desk_pages import Response, layout, redirect
from intake.offline.ledger import LedgerError
from intake.offline.runs import ITEM, REQUESTS

if TYPE_CHECKING:
    from intake.offline.desk import Desk

RETURNS = "returns"  # where the desk writes return bundles unless told another folder


def _why(outgoing: plan.Outgoing, case: cases.Case | None) -> str:
    if not outgoing.new:
        return "sent again, with the day it was decided"
    if outgoing.status == plan.DELIVERED:
        if case is not None and case.state == cases.ANSWERED:
            return "their answer to more_info has arrived; decide on it next"
        return "acknowledged here, nothing decided yet"
    return "a new decision"


def _updates(folder: cases.Folder, outgoing: tuple[plan.Outgoing, ...]) -> str:
    found = questions.load()
    rows = []
    for o in outgoing:
        case = folder.case(o.code)
        lang = case.contact_language if case else "en"
        name, meaning = found.status_words(o.status, lang)
        reads = f'<bdi lang="{lang}" dir="auto">{escape(name)}</bdi>: <span lang="{lang}" dir="auto">{escape(meaning)}</span>'
        rows.append(
            f"<tr><td>{readable.code_html(o.code)}</td><td>{escape(o.status)}</td><td>{reads}</td>"
            f"<td>{readable.message_html(o.message) if o.message else ''}</td><td>{escape(o.decided)}</td>"
            f"<td>{escape(_why(o, case))}</td></tr>"
        )
    head = "".join(
        f'<th scope="col">{c}</th>'
        for c in ("reference", "status", "the defender reads", "message", "dated", "why")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _acknowledged(folder: cases.Folder, acks: tuple[bytes, ...]) -> str:
    by_item = {r["item"]: r for r in folder.requests}
    rows = []
    for ack in acks:
        request = by_item.get(ack.hex())
        if request is not None:
            rows.append(
                f"<li>{readable.code_html(request['reference'])}: {escape(readable.FORM_NAMES.get(request['form'], ''))}, "
                f"received {escape(request['received'])}</li>"
            )
    return f"<details><summary>The {len(acks)} requests</summary><ul>{''.join(rows)}</ul></details>"


def _unacknowledged(desk: "Desk", folder: cases.Folder, acks: tuple[bytes, ...]) -> str:
    acked = {a.hex() for a in acks}
    directory = desk.out / REQUESTS
    strays = sorted(p.name for p in directory.iterdir() if ITEM.match(p.name) and p.name not in acked)
    failed = [
        r
        for r in folder.requests
        if any(isinstance(a, dict) and not a.get("file") for a in r.get("attachments", []))
    ]
    parts = [
        "<p>Requests the server holds that have not been exported and decrypted here are not "
        "acknowledged: they stay on the server and come with the next export.</p>"
    ]
    if strays:
        listed = "".join(f"<li>requests/{escape(name)}</li>" for name in strays)
        parts.append(f"<p>Folders holding no readable request, not acknowledged:</p><ul>{listed}</ul>")
    if failed:
        listed = "".join(f"<li>{readable.code_html(r['reference'])}</li>" for r in failed)
        parts.append(
            '<p class="warning">These requests are acknowledged although some of their files did not '
            "decrypt here: the server then deletes its copy of those files too. Ask the operator for "
            f"another export first if you need them.</p><ul>{listed}</ul>"
        )
    return "".join(parts)


def page(desk: "Desk", query: dict[str, str], error: str = "", status: int = 200) -> Response:
    """What the next return bundle will carry, and the form that writes it."""
    resend = query.get("resend") == "1"
    folder = desk.folder()
    done = f'<p class="saved" role="status">{readable.text_html(desk.written)}</p>' if desk.written else ""
    desk.written = None
    problem = f'<p class="problem" role="alert">{readable.text_html(error)}</p>' if error else ""
    try:
        prepared = reply.prepare(desk.out, desk.keyring_path, resend=resend)
    except (DecisionError, LedgerError) as e:
        main = f'<h1>The next return bundle</h1>{done}{problem}<p class="problem">{readable.text_html(str(e))}</p>'
        return layout(desk, "Answer", main, "answer", status)
    chosen = prepared.plan
    passphrase = (
        ""
        if desk.keyring is not None
        else '<label for="passphrase">Keyring passphrase</label><input type="password" id="passphrase" '
        'name="passphrase" autocomplete="off" required><p class="muted">Used to sign this bundle, then '
        "forgotten: never written anywhere.</p>"
    )
    toggle = (
        f'<a href="{desk.base}answer">Show the usual bundle instead</a>'
        if resend
        else f'<a href="{desk.base}answer?resend=1">Show a bundle that sends every status again</a> '
        "(when a return bundle was lost, or the server refused one)"
    )
    main = (
        f"<h1>The next return bundle</h1>{done}{problem}"
        f"<p>Signed with your signing key, it carries exactly this. {toggle}</p>"
        f"<h2>Statuses and messages ({len(chosen.outgoing)})</h2>"
        + (_updates(folder, chosen.outgoing) if chosen.outgoing else "<p>None.</p>")
        + (
            f"<p>{chosen.already_sent} decisions were sent by earlier replies and are not sent again.</p>"
            if chosen.already_sent and not resend
            else ""
        )
        + f"<h2>Acknowledgements ({len(prepared.acks)})</h2><p>When the operator imports the bundle, the "
        "server deletes its encrypted copy of each of these requests. Keep a backup of this folder first "
        "(<code>intake-offline backup</code>).</p>"
        + _acknowledged(folder, prepared.acks)
        + "<h2>Not acknowledged</h2>"
        + _unacknowledged(desk, folder, prepared.acks)
        + f'<h2>Write it</h2><form class="write" method="post" action="{desk.base}answer">'
        f'<input type="hidden" name="expected" value="{prepared.digest()}">'
        f'<input type="hidden" name="resend" value="{"1" if resend else ""}">'
        f'<label for="folder">Into the folder</label><input type="text" id="folder" name="folder" size="60" '
        f'value="{escape(str(desk.out / RETURNS))}">{passphrase}'
        '<p><button type="submit">Sign and write the return bundle</button></p></form>'
    )
    return layout(desk, "Answer", main, "answer", status)


def _free_name(folder: Path, day: str) -> Path:
    for number in range(1, 1000):
        target = folder / (f"return-{day}.bin" if number == 1 else f"return-{day}-{number}.bin")
        if not target.exists():
            return target
    raise FileExistsError(f"{folder} holds a thousand return bundles of {day}")


def write(desk: "Desk", form: dict[str, str]) -> Response:
    """Sign and write the bundle the page showed, asking for the passphrase if the desk lacks it."""
    resend = form.get("resend") == "1"
    query = {"resend": "1"} if resend else {}
    folder = Path(form.get("folder", "").strip() or desk.out / RETURNS).expanduser()
    if not folder.is_absolute():
        return page(desk, query, "Give the folder as a full path, such as /media/usb.", 400)
    with desk.lock:
        keyring = desk.keyring
        try:
            if keyring is None:
                keyring = load(desk.keyring_path, form.get("passphrase", ""))
            if not folder.exists():
                make_dir(folder)  # an existing folder (a USB stick's) is left as it is
            target = _free_name(folder, datetime.date.today().isoformat())
            made = reply.write(
                desk.out, keyring, desk.keyring_path, target, resend=resend, expected=form.get("expected", "")
            )
        except (KeyringError, DecisionError, LedgerError, reply.Changed, OSError) as e:
            reason = f"{e.filename or ''}: {e.strerror}" if isinstance(e, OSError) and e.strerror else str(e)
            return page(desk, query, f"Nothing was written: {reason}", 400)
    sent = made.sent.outgoing
    desk.written = (
        f"Wrote {target}: return bundle {made.bundle.sequence}, {len(sent)} status updates "
        f"({sum(o.message != '' for o in sent)} with a message), {len(made.bundle.acks)} requests acknowledged. "
        f"Carry it to the operator, who runs: intake import {target.name}"
    )
    return redirect(desk, "answer")
