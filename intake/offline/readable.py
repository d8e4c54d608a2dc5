"""Requests made readable: the site's questions in the secretariat's language, each answer beside it.

Choices become the words the defender chose from, country codes become names, empty optional
answers are left out. Every value comes from a hostile bundle: it is escaped, isolated in its
own direction (`dir="auto"`), and invisible or direction-changing characters in it are shown as
[U+XXXX]. The desk and the static pages (index.html, the run pages) both render with this module.
"""

import functools
import re
import unicodedata
from collections.abc import Callable
from html import escape
from typing import Any

from intake.formats import refcode
from intake.formats.languages import LANGUAGES, direction
from intake.offline import attachments, render
from intake.offline.cases import ANSWERED, UNDECIDED, Case
from intake.offline.questions import Question, Questions, tr

CaseHref = Callable[[str], str | None]  # a reference code -> a link to its case, if it is here
FileHref = Callable[[str, str], str]  # an item and a file name -> a link that downloads it
FORM_NAMES = {
    "individual": "support for a person at risk",
    "organisation": "support for an organisation at risk",
    "feedback": "feedback or complaint",
    "followup": "follow-up",
}
STATE_WORDS = {UNDECIDED: "needs a decision", ANSWERED: "answered: needs a decision"}

# Shown in answers as [U+XXXX]: controls, format characters (bidirectional overrides, embeddings
# and isolates, zero-width spaces), private-use, unassigned, surrogates, line and paragraph
# separators. Kept: line breaks and tabs, the joiners Arabic, Persian and emoji need, and the
# direction marks right-to-left typing inserts (they move no text, unlike an override).
_SHOWN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_KEPT = frozenset("\n\t\u200c\u200d\u200e\u200f\u061c")
_CANDIDATE = re.compile(r"[^\x20-\x7e\n\t]")


def _mark(match: re.Match[str]) -> str:
    char = match.group()
    if char in _KEPT or unicodedata.category(char) not in _SHOWN:
        return char
    return f'<span class="ctl">[U+{ord(char):04X}]</span>'


def text_html(value: str) -> str:
    """Escaped text, with invisible and direction-changing characters made visible."""
    escaped = escape(value)
    # str.isprintable() is False exactly for the categories Other and Separator (but the ASCII
    # space): when it holds, nothing here is one to show, and no character is looked at in Python.
    if escaped.replace("\n", " ").replace("\t", " ").isprintable():
        return escaped
    return _CANDIDATE.sub(_mark, escaped)


def code_html(display: str) -> str:
    """A reference code, always left to right, as the defender saw it."""
    return f'<bdi dir="ltr" class="code">{escape(display)}</bdi>'


def language_html(code: str) -> str:
    """A language by its own name, in its own direction (a code we do not know, as text)."""
    if code not in LANGUAGES:
        return f'<bdi dir="auto">{text_html(code)}</bdi>'
    return f'<bdi lang="{code}" dir="{direction(code)}">{escape(LANGUAGES[code][0])}</bdi> ({code})'


def country_html(value: str, questions: Questions, lang: str) -> str:
    """A country by its name in `lang`; anything else the form could not have sent, as text."""
    name = questions.country(value, lang)
    if name is None:
        return f'<bdi dir="auto">{text_html(value)}</bdi> <span class="muted">(not a country the form offers)</span>'
    return _country(name, value)


@functools.cache
def _country(name: str, code: str) -> str:  # only the form's own countries: a few hundred at most
    return f'<bdi dir="auto">{escape(name)}</bdi> <span class="muted">({escape(code)})</span>'


def _choice(question: Question, value: str, lang: str) -> str:
    if value not in question.choices:
        return f'{text_html(value)} <span class="muted">(not one of the form\'s choices)</span>'
    label, translate = question.choices[value]
    return _words(label, lang) if translate else _escaped(label)


@functools.cache
def _escaped(text: str) -> str:  # only the form's own choices
    return escape(text)


def _answer(question: Question, value: object, questions: Questions, lang: str, case_href: CaseHref) -> str:
    values = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    if question.kind == "choices":
        return "<ul>" + "".join(f"<li>{_choice(question, v, lang)}</li>" for v in values) + "</ul>"
    if question.kind == "choice":
        return ", ".join(_choice(question, v, lang) for v in values)
    if question.kind == "country":
        return ", ".join(country_html(v, questions, lang) for v in values)
    if question.kind == "code":
        return ", ".join(_code_answer(v, case_href) for v in values)
    return text_html("\n".join(values))


def _code_answer(value: str, case_href: CaseHref) -> str:
    try:
        shown = refcode.display(refcode.normalise(value))
    except refcode.InvalidCode:
        return text_html(value) + ' <span class="muted">(not a valid reference code)</span>'
    href = case_href(shown)
    return f'<a href="{escape(href)}">{code_html(shown)}</a>' if href else code_html(shown)


def _empty(value: object) -> bool:
    return value in ("", []) or value is None


@functools.cache
def _words(msgid: str, lang: str) -> str:
    """One of the site's msgids in `lang`, escaped (the same few dozen in every request)."""
    return escape(tr(msgid, lang))


def _label(msgid: str, lang: str) -> str:
    return f'<dt dir="auto">{_words(msgid, lang)}</dt>'


def answers_html(
    request: dict[str, Any], questions: Questions, lang: str, case_href: CaseHref, level: int = 3
) -> str:
    """The request's answers under the form's questions, section by section (headings of `level`), in `lang`."""
    body = request["request"]
    fields, their_lang = body["fields"], escape(body["lang"])
    parts: list[str] = []
    known: set[str] = set()
    for title, section in questions.sections(request["form"]):
        rows = []
        for question in section:
            known.add(question.name)
            value = fields.get(question.name)
            if question.label is None:  # the follow-up's code: the case's own, shown above
                continue
            label = _label(question.label, lang)
            if _empty(value):
                if question.required:
                    rows.append(f'{label}<dd class="missing">no answer</dd>')
                continue
            answer = _answer(question, value, questions, lang, case_href)
            rows.append(f'{label}<dd dir="auto" lang="{their_lang}">{answer}</dd>')
        if rows:
            heading = f"<h{level}>{_words(title, lang)}</h{level}>" if title else ""
            parts.append(
                f'<section lang="{lang}">{heading}<dl class="answers">{"".join(rows)}</dl></section>'
            )
    unknown = [(name, value) for name, value in fields.items() if name not in known and not _empty(value)]
    if unknown:
        listed = "".join(
            f'<dt dir="auto">{text_html(name)}</dt><dd dir="auto" lang="{their_lang}">'
            f"{text_html(chr(10).join(v for v in (value if isinstance(value, list) else [value])))}</dd>"
            for name, value in unknown
        )
        parts.append(
            f'<section class="unknown"><h{level}>Answers to questions this form does not ask</h{level}>'
            "<p>The site never sends these: the request may have been crafted. Read them with care.</p>"
            f'<dl class="answers">{listed}</dl></section>'
        )
    return "".join(parts)


def _as_text(value: str) -> str:
    return f'<bdi dir="auto">{escape(render.visible(value))}</bdi>'


def attachments_html(request: dict[str, Any], file_href: FileHref, level: int = 3) -> str:
    """Each file as a download (never a page to open), with what the sender said about it as text.

    Browsers may ignore `download` on local pages (Chromium does, on file://), so what keeps a
    click harmless is the name the file was written under: only passive formats keep theirs.
    """
    entries = request.get("attachments", [])
    if not entries:
        return ""
    parts = [f"<h{level}>Attachments ({len(entries)})</h{level}><ol>"]
    for entry in entries:
        about = (
            f"sent as {_as_text(entry['name'])}, declared type {_as_text(entry['type'])}, "
            f"{entry['size']:,} bytes"
        )
        if entry.get("file"):
            file = escape(entry["file"])
            href = escape(file_href(request["item"], entry["file"]))
            parts.append(f'<li><a href="{href}" download="{file}">{file}</a>: {about}')
            if attachments.is_inert(entry["file"]):
                parts.append(f'<p class="warning">{escape(render.INERT_ADVICE)}</p>')
            if attachments.carries_metadata(entry["name"], entry["type"]):
                parts.append(f'<p class="warning">{escape(render.METADATA_ADVICE)}</p>')
            parts.append("</li>")
        else:
            problem = escape(entry.get("problem") or "")
            parts.append(f'<li class="not-decrypted">NOT DECRYPTED: {about}: {problem}</li>')
    parts.append("</ol>")
    return "".join(parts)


def message_html(text: str) -> str:
    """A message of the secretariat's, as the defender will read it."""
    return f'<div class="message" dir="auto">{text_html(text)}</div>'


def _heading(request: dict[str, Any], questions: Questions, lang: str) -> str:
    if request["form"] == "followup":
        return "Follow-up: the defender's answer"
    title = questions.forms.get(request["form"], {}).get("title")
    words = tr(title, lang) if title else FORM_NAMES.get(request["form"], request["form"]).capitalize()
    return f'Request: <span lang="{lang}" dir="auto">{escape(words)}</span>'


def thread_html(
    case: Case,
    questions: Questions,
    lang: str,
    *,
    file_href: FileHref,
    case_href: CaseHref,
    focus: str | None = None,
    decided: bool = False,
    level: int = 2,
) -> str:
    """A case's requests, oldest first, each follow-up under the question the secretariat asked.

    With `decided`, each request also shows the decision written on its row. Each request's heading
    is of `level`, its sections' one below.
    """
    parts: list[str] = []
    asked: str | None = None
    for request in case.requests:
        item, followup = request["item"], request["form"] == "followup"
        classes = "request" + (" followup" if followup else "") + (" focus" if item == focus else "")
        meta = (
            f"received {escape(request['received'])} · from the {language_html(request['request']['lang'])} "
            f"page · sealed in the {escape(request['origin'])} · item {escape(item)}"
        )
        parts.append(f'<article class="{classes}" id="item-{escape(item)}">')
        parts.append(f'<h{level}>{_heading(request, questions, lang)}</h{level}><p class="meta">{meta}</p>')
        if followup:
            if asked is not None:
                parts.append(
                    f'<div class="asked"><p>The secretariat had asked:</p>{message_html(asked)}</div>'
                )
            else:
                parts.append('<p class="asked">Sent without a request for more information on record.</p>')
        parts.append(answers_html(request, questions, lang, case_href, level + 1))
        parts.append(attachments_html(request, file_href, level + 1))
        decision = case.decided.get(item)
        if decided and decision is not None:
            said = message_html(decision.message) if decision.message else ""
            parts.append(
                f'<div class="asked"><p>Decided on this request: <b>{escape(decision.status)}</b></p>{said}</div>'
            )
        if decision is not None and decision.status == "more_info":
            asked = decision.message
        parts.append("</article>")
    return "".join(parts)


def state_html(case: Case) -> str:
    """Where a case stands: its decision, and whether the next reply sends it."""
    state = case.state
    words = escape(STATE_WORDS.get(state, state.replace("_", " ")))
    shown = f'<span class="state-{escape(state)}">{words}</span>'
    if case.outgoing is not None:
        shown += f'<br><span class="muted">next reply sends: {escape(case.outgoing.status)}</span>'
    elif case.sent is not None:
        shown += (
            f'<br><span class="muted">sent: {escape(case.sent.status)}, {escape(case.sent.decided)}</span>'
        )
    return shown


COLUMNS = (
    "new",
    "urgency",
    "status",
    "form",
    "country",
    "contact language",
    "waiting",
    "reference",
    "requests",
)


def inbox_html(
    cases: list[Case],
    questions: Questions,
    lang: str,
    *,
    case_href: Callable[[Case], str],
    request_href: Callable[[dict[str, Any]], str] | None = None,
) -> str:
    """The cases as a table, in the order given; with `request_href`, a link to each request."""
    head = "".join(f'<th scope="col">{escape(column)}</th>' for column in COLUMNS)
    rows = []
    for case in cases:
        level = case.urgency
        if request_href is None:
            listed = f"{len(case.requests)}"
        else:
            listed = " · ".join(
                f'<a href="{escape(request_href(r))}">{escape(FORM_NAMES.get(r["form"], r["form"]))}</a>'
                for r in case.requests
            )
        days = case.waiting
        waiting = "" if days is None else "today" if days == 0 else "1 day" if days == 1 else f"{days} days"
        cells = [
            '<span class="new">new</span>' if case.new else "",
            escape(render.URGENCY_LABEL[level]),
            state_html(case),
            escape(FORM_NAMES.get(case.form, case.form)),
            country_html(case.country, questions, lang) if case.country else "",
            language_html(case.contact_language),
            escape(waiting),
            f'<a href="{escape(case_href(case))}">{code_html(case.code)}</a>',
            listed,
        ]
        rows.append(f'<tr class="{level}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
