"""The static pages, for reading without the desk: index.html, and the pages of each decrypt run.

A case is shown on a page of the run that brought its first request (`requests/run-N-page-P.html`,
at most CASES_PER_PAGE cases a page, in the order they came), and that page is written again when a
request joins the case. They render what the desk renders (readable.py). Opened from disk, they carry
their own policy: no script, nothing fetched, and only the style whose hash the policy names.
"""

import base64
import functools
import hashlib
import os
from dataclasses import dataclass
from html import escape
from pathlib import Path

from intake.formats.durable import write_atomic
from intake.formats.languages import direction
from intake.offline import questions, readable, runs
from intake.offline.cases import Case, Folder

STYLE_FILE = Path(__file__).with_name("style.css")
CASES_PER_PAGE = 100  # a page of the bench's requests is about a megabyte


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


@dataclass(frozen=True)
class Home:
    """Where a case is shown: a file in requests/, and the anchor of the case on it."""

    page: str
    anchor: str
    run: int


def homes(folder: Folder) -> dict[str, Home]:
    """Every case's page, by reference code, in the order the cases came."""
    found: dict[str, Home] = {}
    counts: dict[int, int] = {}
    for request in folder.requests:
        code, item = request["reference"], request["item"]
        if code in found:
            continue
        run = folder.found.run[item]
        if run == 0:  # the earlier layout, until decrypt moves it: the request's own page
            found[code] = Home(f"{item}/request.html", f"item-{item}", 0)
            continue
        number = counts.get(run, 0)
        counts[run] = number + 1
        found[code] = Home(f"run-{run}-page-{number // CASES_PER_PAGE + 1}.html", f"case-{item}", run)
    return found


def _problems(folder: Folder) -> str:
    return "".join(f'<p class="problem">{readable.text_html(p)}</p>' for p in folder.problems)


def run_page(name: str, shown: list[Case], placed: dict[str, Home], lang: str) -> str:
    """One page of a run: its cases, each with every request of it, oldest first."""

    def file_href(item: str, file: str) -> str:
        return f"{item}/{file}"

    def case_href(code: str) -> str | None:
        home = placed.get(code)
        return f"{home.page}#{home.anchor}" if home else None

    found = questions.load()
    parts = [
        f'<h1>Cases of {escape(name.removesuffix(".html"))}</h1><p><a href="../index.html">Every case</a> '
        "(index.html). A case is on the page of the run that brought its first request; a later request "
        "joins it there.</p>"
    ]
    for case in shown:
        parts.append(
            f'<section class="case" id="{placed[case.code].anchor}"><h2>Case {readable.code_html(case.code)}</h2>'
            f"<p>Write to the defender in: {readable.language_html(case.contact_language)}</p>"
            + readable.thread_html(case, found, lang, file_href=file_href, case_href=case_href, level=3)
            + "</section>"
        )
    return page(f"Cases, {name}", "".join(parts), "en")


def write_run_pages(out: Path, folder: Folder, codes: set[str], lang: str = "en") -> list[Path]:
    """Write the pages of these cases (a new request changes its whole case), and any page missing (a
    run stopped half-way); return them, to be synced."""
    placed = homes(folder)
    directory = Path(out) / runs.REQUESTS
    present = set(os.listdir(directory))
    wanted = {placed[code].page for code in codes if code in placed and placed[code].run}
    wanted |= {home.page for home in placed.values() if home.run and home.page not in present}
    by_code = {case.code: case for case in folder.cases}
    on_page: dict[str, list[Case]] = {name: [] for name in wanted}
    for code, home in placed.items():
        if home.page in on_page:
            on_page[home.page].append(by_code[code])
    written = []
    for name, shown in sorted(on_page.items()):
        target = directory / name
        write_atomic(target, run_page(name, shown, placed, lang).encode("utf-8"), durable=False)
        written.append(target)
    return written


def index_page(folder: Folder, lang: str = "en") -> str:
    """index.html: every case, undecided and urgent first, each of its requests a link."""
    placed = homes(folder)

    def case_href(case: Case) -> str:
        home = placed[case.code]
        return f"{runs.REQUESTS}/{home.page}#{home.anchor}"

    def request_href(request: dict[str, object]) -> str:
        return f"{runs.REQUESTS}/{placed[str(request['reference'])].page}#item-{request['item']}"

    table = readable.inbox_html(
        folder.cases, questions.load(), lang, case_href=case_href, request_href=request_href
    )
    body = (
        f"<h1>Requests ({len(folder.requests)} in {len(folder.cases)} cases)</h1>{_problems(folder)}"
        "<p>As of the last decrypt, reply or decision made in the desk. To search, use the "
        "browser's Find (Ctrl+F) here and in the pages; the desk (<code>intake-offline desk</code>) "
        "filters and searches.</p>" + table
    )
    return page("Requests", body, "en")


def write_index(out: Path, folder: Folder, lang: str = "en") -> None:
    """Write index.html."""
    write_atomic(Path(out) / "index.html", index_page(folder, lang).encode("utf-8"))
