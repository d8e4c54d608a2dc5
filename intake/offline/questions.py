"""The site's questions in the secretariat's language, offline: questions.json and the compiled catalogs.

The offline tool cannot load the web forms (Flask, WTForms, Babel), so `intake translations
update` describes them in questions.json, beside this module (intake/web/describe.py makes it).
The words are the forms' English msgids; the standard library's gettext translates them with the
same compiled catalogs the site uses (in the wheel under intake/translations/, in a checkout
under translations/ once `intake translations compile` has run).
"""

import functools
import gettext
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake.formats.languages import DEFAULT, LANGUAGES

PACKAGE = Path(__file__).resolve().parent.parent  # intake/
FILE = Path(__file__).with_name("questions.json")


def catalogs_folder() -> Path:
    """Where the compiled catalogs are: inside the package (the wheel), else the checkout's."""
    inside = PACKAGE / "translations"
    return inside if inside.is_dir() else PACKAGE.parent / "translations"


@functools.cache
def translation(lang: str) -> gettext.NullTranslations:
    """The catalog for `lang` (English, the source language, needs none)."""
    if lang == DEFAULT or lang not in LANGUAGES:
        return gettext.NullTranslations()
    return gettext.translation("messages", str(catalogs_folder()), languages=[lang], fallback=True)


def has_catalog(lang: str) -> bool:
    """False when a language's compiled catalog is missing (the desk then says so)."""
    return lang == DEFAULT or type(translation(lang)) is not gettext.NullTranslations


@dataclass(frozen=True)
class Question:
    """One field of a form: its question, what kind of answer it takes, its choices."""

    name: str
    label: str | None  # an English msgid; None for a field the form does not show (a code)
    kind: str  # text, number, choice, choices, country, code
    required: bool
    choices: dict[str, tuple[str, bool]]  # value -> (label, translate it?)


class Questions:
    """Every form's questions and choices, and the countries' names, in any of the five languages."""

    def __init__(self, description: dict[str, Any]):
        self.forms = description["forms"]
        self.countries: dict[str, dict[str, str]] = description["countries"]
        self.statuses: dict[str, dict[str, str]] = description["statuses"]
        self._sections: dict[str, list[tuple[str | None, list[Question]]]] = {}

    def sections(self, form: str) -> list[tuple[str | None, list[Question]]]:
        """The form's sections in page order: (title msgid or None, its questions). Made once a form:
        every request of it asks the same."""
        if form not in self.forms:
            return []
        if form not in self._sections:
            self._sections[form] = [
                (section["title"], [self.question(form, name) for name in section["fields"]])
                for section in self.forms[form]["sections"]
            ]
        return self._sections[form]

    def question(self, form: str, name: str) -> Question:
        """A field of a form (KeyError for one the form does not have)."""
        field = self.forms[form]["fields"][name]
        choices = {c["value"]: (c["label"], c["translate"]) for c in field.get("choices", [])}
        return Question(name, field["label"], field["kind"], field["required"], choices)

    def country(self, code: str, lang: str) -> str | None:
        """A country's name in `lang`, or None for a code the forms do not offer."""
        names = self.countries.get(code)
        return names.get(lang, names.get(DEFAULT)) if names else None

    def status_words(self, status: str, lang: str) -> tuple[str, str]:
        """A status as the defender reads it on the status page, in `lang`: its name and meaning."""
        words = self.statuses[status]
        return tr(words["name"], lang), tr(words["meaning"], lang)


def tr(msgid: str, lang: str) -> str:
    """Translate one of the site's msgids into `lang`."""
    return translation(lang).gettext(msgid)


@functools.cache
def load() -> Questions:
    """The description shipped with the package."""
    return Questions(json.loads(FILE.read_bytes()))
