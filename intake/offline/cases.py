"""Cases: a reference code's requests and follow-ups, with its decisions, what was sent, its note.

What the desk's inbox and case view show, and the static index.html, read from the folder the
way `reply` reads it: the same requests, the same decisions.csv, the same ledger, the same plan.
"""

import datetime
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intake.formats import refcode
from intake.formats.durable import write_atomic
from intake.formats.languages import LANGUAGES
from intake.offline import decisions, ledger, notes, plan, render, runs
from intake.offline.decisions import Decision, DecisionError
from intake.offline.ledger import LedgerError
from intake.offline.questions import Questions

NEW_FILE = "last-decrypt.json"  # the items the last decrypt that brought any brought
UNDECIDED = "undecided"  # nothing decided yet
ANSWERED = "answered"  # more_info was asked, and a newer request (the answer) came in


def record_new(out: Path, items: list[str]) -> None:
    """Remember which requests a decrypt run brought, for the inbox's "new" marker."""
    data = {"version": 1, "day": datetime.date.today().isoformat(), "items": sorted(items)}
    write_atomic(Path(out) / NEW_FILE, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def new_items(out: Path) -> set[str]:
    """The items the last decrypt that brought any brought (none if the file is missing or damaged:
    it only marks rows)."""
    try:
        items = json.loads((Path(out) / NEW_FILE).read_bytes())["items"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {item for item in items if isinstance(item, str)} if isinstance(items, list) else set()


@dataclass
class Case:
    """One reference code: its requests oldest first, and what the secretariat did about it."""

    code: str  # as displayed
    requests: list[dict[str, Any]]
    decided: dict[str, Decision]  # by item: the decision on that request's row
    decision: Decision | None  # the one a reply sends: on the newest request that has one
    sent: ledger.Sent | None  # what the last reply sent for this code
    outgoing: plan.Outgoing | None  # what the next reply sends for it (None: nothing)
    note: str
    new: bool  # a request of it came with the last decrypt
    today: datetime.date = field(default_factory=datetime.date.today)

    @property
    def first(self) -> dict[str, Any]:
        """The request that opened the case (a follow-up, if its request is not in this folder)."""
        return next((r for r in self.requests if r["form"] != "followup"), self.requests[0])

    @property
    def latest(self) -> dict[str, Any]:
        """The newest request: a decision made in the desk goes on its row."""
        return self.requests[-1]

    @property
    def form(self) -> str:
        """The form that opened the case."""
        return str(self.first["form"])

    @property
    def urgency(self) -> str:
        """The most urgent any of its requests says."""
        return min((render.urgency(r) for r in self.requests), key=render.URGENCY_RANK.__getitem__)

    def answer(self, name: str) -> str:
        """A one-word answer of the opening request (country, contact language), or ""."""
        value = self.first["request"]["fields"].get(name, "")
        return value if isinstance(value, str) else ""

    @property
    def country(self) -> str:
        return self.answer("country")

    @property
    def contact_language(self) -> str:
        """The language the defender asked to be written to in, else the language of their page."""
        chosen = self.answer("contact_language")
        return chosen if chosen in LANGUAGES else self.first["request"]["lang"]

    @property
    def state(self) -> str:
        """undecided, answered, or the status decided."""
        if self.decision is None:
            return UNDECIDED
        if self.decision.status == plan.MORE_INFO and self.latest["item"] != self.decision.item:
            return ANSWERED
        return self.decision.status

    @property
    def needs_decision(self) -> bool:
        return self.state in (UNDECIDED, ANSWERED)

    @property
    def waiting(self) -> int | None:
        """Days since the oldest request that no decision has covered yet; None when decided."""
        if not self.needs_decision:
            return None
        items = [r["item"] for r in self.requests]
        after = items.index(self.decision.item) + 1 if self.decision else 0
        day = datetime.date.fromisoformat(self.requests[after]["received"])
        return max(0, (self.today - day).days)

    def sort_key(self) -> tuple[bool, int, str, str]:
        """Undecided first, then urgent first, then the longest waiting, then by code."""
        oldest = min(r["received"] for r in self.requests)
        return (not self.needs_decision, render.URGENCY_RANK[self.urgency], oldest, self.code)


@dataclass
class Folder:
    """Everything the desk shows, read once per page; `problems` says what could not be read."""

    out: Path
    found: runs.Found  # the requests, and the run that brought each
    cases: list[Case]
    problems: list[str]
    decisions_ok: bool  # False when decisions.csv cannot be used (nothing can be decided)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request, in the order the runs brought them."""
        return self.found.requests

    def case(self, code: str) -> Case | None:
        """The case of a reference code, in any form a person might type it."""
        try:
            wanted = refcode.display(refcode.normalise(code))
        except refcode.InvalidCode:
            return None
        return next((c for c in self.cases if c.code == wanted), None)


def read(out: Path, found: runs.Found, fresh: set[str], today: datetime.date | None = None) -> Folder:
    """Read the folder as reply would (decisions.csv, the ledger) around the requests `found`, with the
    notes; `fresh` holds the items the last decrypt brought."""
    out = Path(out)
    today = today or datetime.date.today()
    requests = found.requests
    problems: list[str] = list(found.problems)
    decided: list[Decision] = []
    rows: dict[str, int] = {}
    decisions_ok = True
    try:
        decided, sheet = decisions.read(out, {r["item"]: r for r in requests})
        rows = {cells["item"].strip().lower(): number for number, cells in sheet.rows}
    except DecisionError as e:
        problems.append(str(e))
        decisions_ok = False
    try:
        book = ledger.load(out)
    except LedgerError as e:
        problems.append(str(e))
        book = ledger.Ledger()
    try:
        private = notes.load(out)
    except LedgerError as e:
        problems.append(str(e))
        private = {}
    newest = plan.newest_decisions(requests, decided, rows)
    outgoing = {o.code: o for o in plan.plan(requests, decided, rows, book, today.isoformat()).outgoing}
    by_code: dict[str, list[dict[str, Any]]] = {}
    for request in requests:
        by_code.setdefault(request["reference"], []).append(request)
    by_item = {d.item: d for d in decided}
    cases = [
        Case(
            code=code,
            requests=plan.oldest_first(items, rows),
            decided={r["item"]: by_item[r["item"]] for r in items if r["item"] in by_item},
            decision=newest.get(code),
            sent=book.codes.get(code),
            outgoing=outgoing.get(code),
            note=private.get(code, ""),
            new=any(r["item"] in fresh for r in items),
            today=today,
        )
        for code, items in by_code.items()
    ]
    cases.sort(key=Case.sort_key)
    return Folder(out, found, cases, problems, decisions_ok)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def search_text(case: Case, questions: Questions, lang: str) -> str:
    """What a search looks through: every answer, file name and code, the country's name, the note."""
    parts = [case.code, case.note]
    for request in case.requests:
        for name, value in request["request"]["fields"].items():
            parts.extend([name, *(value if isinstance(value, list) else [value])])
        parts.extend(a.get("name", "") for a in request.get("attachments", []) if isinstance(a, dict))
    parts.append(questions.country(case.country, lang) or "")
    return _folded("\n".join(p for p in parts if isinstance(p, str)))


@dataclass(frozen=True)
class Filters:
    """The inbox's filters, as the page's form sends them; empty means any."""

    status: str = ""
    form: str = ""
    urgency: str = ""
    country: str = ""
    language: str = ""
    text: str = ""

    def keep(self, case: Case, questions: Questions, lang: str) -> bool:
        """True when the case passes every filter set."""
        checks = (
            (self.status, case.state),
            (self.form, case.form),
            (self.urgency, case.urgency),
            (self.country, case.country),
            (self.language, case.contact_language),
        )
        if any(wanted and wanted != value for wanted, value in checks):
            return False
        words = _folded(self.text).split()
        haystack = search_text(case, questions, lang) if words else ""
        return all(word in haystack for word in words)
