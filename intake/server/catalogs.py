"""The translation pipeline in one place: extract, update, compile, and CI's completeness check."""

import re
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from intake.formats.languages import LANGUAGES
from intake.server.settings import PACKAGE, ROOT

DIR = ROOT / "translations"
POT = DIR / "messages.pot"
# The forms' questions for the offline tool, which cannot load the forms (intake/web/describe.py).
QUESTIONS = PACKAGE / "offline" / "questions.json"
# HAProxy's pages, in every language, for when no node answers (deploy/haproxy.cfg): file -> status.
PROXY_PAGES = {ROOT / "deploy" / "haproxy-offline.http": 503, ROOT / "deploy" / "haproxy-no-answer.http": 502}
KEYWORDS = ["-k", "_l"]


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def _extract(target: Path) -> None:
    _pybabel(
        "extract",
        "-F",
        str(DIR / "babel.cfg"),
        *KEYWORDS,
        "--no-location",
        "--sort-output",
        "--omit-header",
        "-o",
        str(target),
        str(ROOT),
    )


def _po(lang: str) -> Path:
    return DIR / lang / "LC_MESSAGES" / "messages.po"


def compile_all() -> None:
    """Compile every catalog to .mo (the .mo files are built, never committed)."""
    _pybabel("compile", "-d", str(DIR))


def _questions() -> bytes:
    import intake  # the composition root: only it may reach the web forms from here

    return intake.forms_description()


def _proxy_page(status: int) -> bytes:
    import intake  # as _questions(); rendered from the compiled catalogs

    return intake.proxy_page(status)


def update() -> list[str]:
    """Extract messages.pot from the code, merge it into each catalog, describe the forms for the
    offline tool, compile; return problems."""
    _extract(POT)
    QUESTIONS.write_bytes(_questions())
    for lang in LANGUAGES:
        if lang == "en":
            continue
        if _po(lang).exists():
            before = _po(lang).read_text(encoding="utf-8")
            _pybabel(
                "update",
                "-i",
                str(POT),
                "-d",
                str(DIR),
                "-l",
                lang,
                "--no-fuzzy-matching",
                "--ignore-obsolete",
            )
            _keep_creation_date(_po(lang), before)
        else:
            _pybabel("init", "-i", str(POT), "-d", str(DIR), "-l", lang)
    return check(write=True)


def _keep_creation_date(po: Path, before: str) -> None:
    """pybabel stamps each merge with the time of day: a catalog whose messages did not change
    would differ, and every branch that touches the catalogs would conflict on that line."""
    stamp = re.compile(r'^"POT-Creation-Date: [^"]*"$', re.M)
    old = stamp.search(before)
    if old:
        po.write_text(
            stamp.sub(lambda _: old.group(0), po.read_text(encoding="utf-8"), count=1), encoding="utf-8"
        )


def _ids(path: Path) -> set:
    with open(path, "rb") as f:
        return {m.id for m in read_po(f) if m.id}


def check(write: bool = False) -> list[str]:
    """Return what is wrong: a stale template, missing, untranslated or fuzzy entries, bad placeholders;
    then, the catalogs complete and compiled, a stale proxy page (or write them: `update`)."""
    problems = []
    if not QUESTIONS.is_file() or QUESTIONS.read_bytes() != _questions():
        problems.append(f"{QUESTIONS.name} is stale: run `intake translations update`")
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "messages.pot"
        _extract(fresh)
        if _ids(fresh) != _ids(POT):
            problems.append("messages.pot is stale: run `intake translations update`")
        wanted = _ids(fresh)
    for lang in LANGUAGES:
        if lang == "en":
            continue
        with open(_po(lang), "rb") as f:
            catalog = read_po(f, locale=lang)
        have = {
            m.id
            for m in catalog
            if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, (list, tuple)) else m.string)
        }
        for label, ids in (("untranslated or fuzzy", wanted - have), ("obsolete", _ids(_po(lang)) - wanted)):
            if ids:
                problems.append(f"{lang}: {len(ids)} {label}, e.g. {sorted(map(str, ids))[0][:60]!r}")
        for message, errors in catalog.check():
            problems.append(f"{lang}: {str(message.id)[:50]!r}: {'; '.join(map(str, errors))}")
    if not problems:
        compile_all()
        for path, status in PROXY_PAGES.items():
            page = _proxy_page(status)
            if write:
                path.write_bytes(page)
            elif not path.is_file() or path.read_bytes() != page:
                problems.append(f"deploy/{path.name} is stale: run `intake translations update`")
    return problems
