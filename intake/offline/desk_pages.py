"""The desk's pages: the inbox, a case (read, decide, note), its files (desk_answer.py: the reply).

Every page is read fresh from the folder. Every value shown is escaped (readable.py); every form
posts back to the desk; every change is made under the folder's lock and then shown (303).
"""

import os
import re
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

from intake.formats.languages import LANGUAGES
from intake.formats.return_bundle import MAX_MESSAGE, STATUSES
from intake.offline import cases, decisions, ledger, notes, pages, questions, readable
from intake.offline.decisions import DecisionError
from intake.offline.ledger import LedgerError
from intake.offline.plan import DELIVERED
from intake.offline.render import visible
from intake.offline.runs import ATTACHMENT, ITEM, REQUESTS

if TYPE_CHECKING:
    from intake.offline.desk import Desk


@dataclass
class Response:
    """What the desk answers: status, body, type, and any header of its own."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def redirect(desk: "Desk", path: str) -> Response:
    """See the result of a change on its own page (a reload then changes nothing)."""
    return Response(303, b"", headers={"Location": desk.base + path})


def layout(desk: "Desk", title: str, main: str, back: str, status: int = 200) -> Response:
    """A whole page: the navigation, the choice of language for the questions, the content."""
    options = "".join(
        f'<option value="{code}"{" selected" if code == desk.lang else ""}>{escape(name)} ({code})</option>'
        for code, (name, _) in LANGUAGES.items()
    )
    missing = (
        ""
        if questions.has_catalog(desk.lang)
        else '<p class="problem">The compiled catalogs are missing: questions are shown in English '
        "(in a checkout, run <code>intake translations compile</code>).</p>"
    )
    html = (
        f'<!doctype html>\n<html lang="en" dir="ltr">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="referrer" content="no-referrer">\n<title>{escape(title)} · intake desk</title>\n'
        f'<link rel="stylesheet" href="{desk.base}style.css">\n</head>\n<body>\n'
        '<header class="top"><nav aria-label="Desk"><ul>'
        f'<li><a href="{desk.base}">Inbox</a></li><li><a href="{desk.base}answer">Answer: the next return bundle</a></li>'
        f'</ul></nav><form method="post" action="{desk.base}language" class="language">'
        f'<label for="lang">Questions in</label> <select id="lang" name="lang">{options}</select> '
        f'<input type="hidden" name="back" value="{escape(back)}"> <button type="submit">Show</button></form>'
        f"</header>\n<main>{missing}{main}</main>\n</body>\n</html>\n"
    )
    return Response(status, html.encode("utf-8"))


def _case_of(folder: cases.Folder, item: str) -> cases.Case | None:
    """The case one of whose requests is `item` (any of them names the case in the desk's links)."""
    return next((c for c in folder.cases if any(r["item"] == item for r in c.requests)), None)


def _problems(folder: cases.Folder) -> str:
    return "".join(f'<p class="problem">{readable.text_html(p)}</p>' for p in folder.problems)


def _select(name: str, label: str, options: list[tuple[str, str]], chosen: str) -> str:
    shown = "".join(
        f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>{text}</option>'
        for value, text in [("", "any"), *options]
    )
    return f'<div><label for="f-{name}">{label}</label><select id="f-{name}" name="{name}">{shown}</select></div>'


def inbox(desk: "Desk", query: dict[str, str]) -> Response:
    """Every case, undecided and urgent first, filtered and searched."""
    folder, found = desk.folder(), questions.load()
    wanted = cases.Filters(**{k: query.get(k, "")[:200] for k in cases.Filters.__dataclass_fields__})
    shown = [case for case in folder.cases if wanted.keep(case, found, desk.lang)]
    countries = sorted(
        {c.country for c in folder.cases if c.country},
        key=lambda code: found.country(code, desk.lang) or code,
    )
    states = [(cases.UNDECIDED, "needs a decision"), (cases.ANSWERED, "answered: needs a decision")]
    filters = (
        f'<form class="filters" method="get" action="{desk.base}" role="search">'
        + _select("status", "Status", [*states, *((s, s.replace("_", " ")) for s in STATUSES)], wanted.status)
        + _select("form", "Form", [(k, escape(v)) for k, v in readable.FORM_NAMES.items()], wanted.form)
        + _select("urgency", "Urgency", [(k, k) for k in ("critical", "high", "normal")], wanted.urgency)
        + _select(
            "country",
            "Country",
            [(c, escape(f"{found.country(c, desk.lang) or visible(c)} ({c})")) for c in countries],
            wanted.country,
        )
        + _select(
            "language", "Contact language", [(k, escape(v[0])) for k, v in LANGUAGES.items()], wanted.language
        )
        + f'<div><label for="f-text">Search the requests</label><input type="search" id="f-text" name="text" '
        f'value="{escape(wanted.text)}"></div><div><button type="submit">Filter</button> '
        f'<a href="{desk.base}">Clear</a></div></form>'
    )
    waiting = sum(c.needs_decision for c in folder.cases)
    table = readable.inbox_html(
        shown, found, desk.lang, case_href=lambda c: f"{desk.base}case/{c.latest['item']}"
    )
    main = (
        f"<h1>Inbox: {len(folder.cases)} cases, {waiting} need a decision</h1>{_problems(folder)}{filters}"
        f"<p>{len(shown)} shown. Undecided cases first, then the most urgent, then the longest waiting; "
        f'"new" marks cases with a request from the last decrypt.</p>'
        + (table if shown else "<p>No case matches.</p>")
    )
    return layout(desk, "Inbox", main, "")


def _decision_form(
    desk: "Desk", folder: cases.Folder, case: cases.Case, error: str, typed: dict[str, str]
) -> str:
    latest = case.latest
    current = case.decided.get(latest["item"])
    status = typed.get("status", current.status if current else "")
    message = typed.get("message", current.message if current else "")
    lang = case.contact_language
    choices = [("", "no decision: the defender keeps seeing what was last sent")]
    for name in STATUSES:
        if name != DELIVERED:
            words, _ = questions.load().status_words(name, lang)
            choices.append(
                (
                    name,
                    f'{name.replace("_", " ")}: the defender reads <bdi lang="{lang}">{escape(words)}</bdi>',
                )
            )
    radios = "".join(
        f'<li><input type="radio" name="status" id="s-{value or "none"}" value="{value}"'
        f'{" checked" if value == status else ""}> <label for="s-{value or "none"}">{text}</label></li>'
        for value, text in choices
    )
    where = readable.FORM_NAMES.get(latest["form"], latest["form"])
    if not folder.decisions_ok:
        return '<p class="problem">Decisions cannot be saved until decisions.csv is corrected (above).</p>'
    return (
        f'<form class="decide" method="post" action="{desk.base}case/{latest["item"]}/decision">'
        + (f'<p class="problem" role="alert">{readable.text_html(error)}</p>' if error else "")
        + f'<input type="hidden" name="item" value="{latest["item"]}">'
        f"<p>Written on the row of the newest request of the case (the {escape(where)} received "
        f"{escape(latest['received'])}) in decisions.csv, where <code>reply</code> reads it; earlier rows stay as they are.</p>"
        f'<fieldset><legend>Status</legend><ul class="plain">{radios}</ul></fieldset>'
        f'<label for="message">Message to the defender (optional), in {readable.language_html(lang)}</label>'
        f'<textarea id="message" name="message" dir="auto" lang="{lang}" aria-describedby="message-help">'
        f"{escape(message)}</textarea>"
        f'<p id="message-help" class="muted">At most {MAX_MESSAGE:,} bytes of UTF-8: about 1,000 Arabic or '
        f"Russian letters, 2,000 Latin ones (this one: {len(decisions.clean_message(message).encode('utf-8')):,}). "
        "Only someone holding the reference code can read it.</p>"
        '<button type="submit">Save the decision</button></form>'
    )


def case_page(
    desk: "Desk", item: str, error: str = "", typed: dict[str, str] | None = None, saved: str = ""
) -> Response:
    """One case: where it stands, the decision and note forms, every request of it in order."""
    folder, found = desk.folder(), questions.load()
    case = _case_of(folder, item)
    if case is None:
        return layout(desk, "Not found", "<h1>No such case</h1>", "", 404)

    def case_href(code: str) -> str | None:
        other = folder.case(code)
        return f"{desk.base}case/{other.latest['item']}" if other else None

    sent = f"{escape(case.sent.status)}, decided {escape(case.sent.decided)}" if case.sent else "nothing yet"
    summary = (
        f'<div class="panel"><p>{"<span class=new>new</span> " if case.new else ""}'
        f'Urgency: <span class="urgency-{case.urgency}">{escape(case.urgency)}</span> · '
        f"Form: {escape(readable.FORM_NAMES.get(case.form, case.form))} · "
        f"Country: {readable.country_html(case.country, found, desk.lang) if case.country else 'not given'}</p>"
        f"<p>Where it stands: {readable.state_html(case)}</p>"
        f"<p>The defender sees now: {sent}.</p>"
        f"<p>Write to the defender in: {readable.language_html(case.contact_language)}</p></div>"
    )
    note = (
        f'<form class="note" method="post" action="{desk.base}case/{item}/note">'
        '<label for="note">Private note</label><textarea id="note" name="note" dir="auto" '
        f'aria-describedby="note-help">{escape(case.note)}</textarea><p id="note-help" class="muted">Stays '
        "on this machine (notes.json, beside decisions.csv): never in a reply, never in decisions.csv.</p>"
        '<button type="submit">Save the note</button></form>'
    )
    done = {"decision": "Decision saved in decisions.csv.", "note": "Note saved."}.get(saved, "")

    def file_href(request_item: str, file: str) -> str:
        return f"{desk.base}file/{request_item}/{file}"

    thread = readable.thread_html(
        case, found, desk.lang, file_href=file_href, case_href=case_href, decided=True, focus=item
    )
    main = (
        f"<h1>Case {readable.code_html(case.code)}</h1>{_problems(folder)}"
        + (f'<p class="saved" role="status">{done}</p>' if done else "")
        + summary
        + f"<h2>Decide</h2>{_decision_form(desk, folder, case, error, typed or {})}<h2>Notes</h2>{note}"
        + f"<h2>The requests, oldest first</h2>{thread}"
    )
    return layout(desk, f"Case {case.code}", main, f"case/{item}", 400 if error else 200)


def decide(desk: "Desk", item: str, form: dict[str, str]) -> Response:
    """Save a decision on the newest request's row; refuse it, keeping what was typed, if it cannot go."""
    status, message = form.get("status", "").strip(), form.get("message", "")
    with desk.lock:
        folder = desk.folder()
        case = _case_of(folder, item)
        if case is None:
            return layout(desk, "Not found", "<h1>No such case</h1>", "", 404)
        if form.get("item") != case.latest["item"]:
            error = "A newer request of this case has arrived since the page was shown: read it, then decide."
            return case_page(desk, item, error, form)
        try:
            with ledger.locked(desk.out):
                decisions.record(
                    desk.out, {r["item"]: r for r in folder.requests}, case.latest["item"], status, message
                )
                pages.write_index(desk.out, desk.folder())
        except (DecisionError, LedgerError) as e:
            return case_page(desk, item, str(e), form)
    return redirect(desk, f"case/{item}?saved=decision")


def save_note(desk: "Desk", item: str, form: dict[str, str]) -> Response:
    """Save the case's private note."""
    text = form.get("note", "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > notes.MAX_NOTE:
        return case_page(desk, item, f"A note holds at most {notes.MAX_NOTE:,} characters.")
    with desk.lock:
        folder = desk.folder()
        case = _case_of(folder, item)
        if case is None:
            return layout(desk, "Not found", "<h1>No such case</h1>", "", 404)
        try:
            with ledger.locked(desk.out):
                kept = notes.load(desk.out)
                kept[case.code] = text
                notes.save(desk.out, kept)
        except LedgerError as e:
            return case_page(desk, item, str(e))
    return redirect(desk, f"case/{item}?saved=note")


def download(desk: "Desk", item: str, name: str) -> Response:
    """An attachment, as a download only: never shown in the page, never sniffed into a page."""
    if not ITEM.match(item) or not ATTACHMENT.match(name):
        return Response(404, b"Not found\n", "text/plain; charset=utf-8")
    folder = desk.out / REQUESTS / item
    listed = next((r for r in desk.folder().requests if r["item"] == item), None)
    if listed is None or name not in {a.get("file") for a in listed.get("attachments", [])}:
        return Response(404, b"Not found\n", "text/plain; charset=utf-8")
    try:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return Response(404, b"Not found\n", "text/plain; charset=utf-8")
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return Response(200, data, "application/octet-stream", headers)


def choose_language(desk: "Desk", form: dict[str, str]) -> Response:
    """Show the questions in another of the five languages."""
    if form.get("lang") in LANGUAGES:
        desk.lang = form["lang"]
    back = form.get("back", "")
    safe = re.fullmatch(r"(case/[0-9a-f]{32}|answer)?", back)
    return redirect(desk, back if safe else "")
