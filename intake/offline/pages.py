"""The static pages, for reading without the desk: index.html, and request.html in each request's folder.

They render what the desk renders (readable.py). Opened from disk, they carry their own policy:
no script, nothing fetched, and only the style whose hash the policy names.
"""

import base64
import functools
import hashlib
from html import escape
from pathlib import Path

from intake.formats.durable import write_atomic
from intake.formats.languages import direction
from intake.offline import questions, readable
from intake.offline.cases import Case, Folder

STYLE_FILE = Path(__file__).with_name("style.css")


@functools.cache
def style() -> str:
    """The pages' style sheet (the desk serves it as a file; static pages carry it inline)."""
    return STYLE_FILE.read_text(encoding="utf-8")


def _policy() -> str:
    digest = base64.b64encode(hashlib.sha256(style().encode("utf-8")).digest()).decode("ascii")
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


def page(title: str, body: str, lang: str = "en") -> str:
    """A whole static page: the style inline, under a policy that allows nothing else."""
    return (
        f'<!doctype html>\n<html lang="{lang}" dir="{direction(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_policy()}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n<style>{style()}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _problems(folder: Folder) -> str:
    return "".join(f'<p class="problem">{readable.text_html(p)}</p>' for p in folder.problems)


def case_page(folder: Folder, case: Case, focus: str, lang: str) -> str:
    """request.html of one request: its whole case, the request itself marked."""

    def file_href(item: str, file: str) -> str:
        return file if item == focus else f"../{item}/{file}"

    def case_href(code: str) -> str | None:
        other = folder.case(code)
        return f"../{other.latest['item']}/request.html" if other else None

    found = questions.load()
    body = (
        f"<h1>Case {readable.code_html(case.code)}</h1>"
        f"<p>Write to the defender in: {readable.language_html(case.contact_language)}</p>"
        + readable.thread_html(case, found, lang, file_href=file_href, case_href=case_href, focus=focus)
    )
    return page(f"Case {case.code}", body, "en")


def write_case_pages(out: Path, folder: Folder, codes: set[str], lang: str = "en") -> None:
    """Write request.html for every request of these cases (a new request changes its whole case)."""
    for case in folder.cases:
        if case.code in codes:
            for request in case.requests:
                html = case_page(folder, case, request["item"], lang)
                target = Path(out) / "requests" / request["item"] / "request.html"
                write_atomic(target, html.encode("utf-8"), durable=False)


def index_page(folder: Folder, lang: str = "en") -> str:
    """index.html: every case, undecided and urgent first, each of its requests a link."""
    table = readable.inbox_html(
        folder.cases,
        questions.load(),
        lang,
        case_href=lambda case: f"requests/{case.latest['item']}/request.html",
        request_href=lambda request: f"requests/{request['item']}/request.html",
    )
    body = (
        f"<h1>Requests ({len(folder.requests)} in {len(folder.cases)} cases)</h1>{_problems(folder)}"
        "<p>As of the last decrypt, reply or decision made in the desk. To search, use the "
        "browser's Find (Ctrl+F); the desk (<code>intake-offline desk</code>) filters and searches.</p>"
        + table
    )
    return page("Requests", body, "en")


def write_index(out: Path, folder: Folder, lang: str = "en") -> None:
    """Write index.html."""
    write_atomic(Path(out) / "index.html", index_page(folder, lang).encode("utf-8"), durable=False)
