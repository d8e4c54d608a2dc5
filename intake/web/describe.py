"""The forms described for the offline tool, which cannot load them: questions, choices, countries.

The secretariat's desk shows each question in the secretariat's language, choices as words and
countries by name. The words are the forms' own English msgids (the desk translates them with the
compiled catalogs, through the standard library's gettext); country names come from Babel's CLDR
data in the five languages. `intake translations update` writes the result into the package
(intake/offline/questions.json) and `intake translations check` fails when it is stale.
"""

import json
from typing import Any

from flask_babel.speaklater import LazyString
from wtforms import HiddenField, RadioField, SelectField, SelectMultipleField, StringField

from intake.formats.languages import LANGUAGES
from intake.web.fields import ReferenceCode, Required, WholeNumber, country_names
from intake.web.forms import FeedbackForm, FollowupForm
from intake.web.lookup import STATUS_TEXT
from intake.web.support_forms import IndividualForm, OrganisationForm

VERSION = 1
FORMS = (IndividualForm, OrganisationForm, FeedbackForm, FollowupForm)


def _msgid(text) -> str | None:
    """The English msgid of a lazy string (what the catalogs translate), or None."""
    if text is None:
        return None
    if isinstance(text, LazyString):
        return str(text._args[0])
    return str(text)


def _kind(unbound) -> str:
    cls = unbound.field_class
    validators = unbound.args[1] if len(unbound.args) > 1 else unbound.kwargs.get("validators", [])
    if issubclass(cls, HiddenField) or any(isinstance(v, ReferenceCode) for v in validators):
        return "code"
    if issubclass(cls, SelectMultipleField):
        return "choices"
    if issubclass(cls, SelectField | RadioField):
        # The country lists are filled in when a form is made, in the page's language (Babel's
        # CLDR names): a select with no choices of its own is one of them.
        return "choice" if unbound.kwargs.get("choices") else "country"
    if any(isinstance(v, WholeNumber) for v in validators):
        return "number"
    if issubclass(cls, StringField):
        return "text"
    raise ValueError(f"a field of a kind the desk does not know: {cls.__name__}")


def _field(unbound) -> dict[str, Any]:
    validators = unbound.args[1] if len(unbound.args) > 1 else unbound.kwargs.get("validators", [])
    label = unbound.args[0] if unbound.args else unbound.kwargs.get("label")
    field: dict[str, Any] = {
        "label": _msgid(label),
        "kind": _kind(unbound),
        "required": any(isinstance(v, Required) for v in validators),
    }
    choices = [
        # Language names are written in their own language and never translated.
        {"value": c.value, "label": _msgid(c.label), "translate": isinstance(c.label, LazyString)}
        for c in unbound.kwargs.get("choices") or []
        if c.value
    ]
    if choices:
        field["choices"] = choices
    return field


def _form(form) -> dict[str, Any]:
    sections = [{"title": _msgid(title), "fields": list(names)} for title, names in form.SECTIONS]
    fields = {name: _field(getattr(form, name)) for _, names in form.SECTIONS for name in names}
    return {"title": _msgid(getattr(form, "TITLE", None)), "sections": sections, "fields": fields}


def describe() -> dict[str, Any]:
    """Every form's questions as msgids, the countries in the five languages, the statuses' words."""
    names = {lang: country_names(lang) for lang in LANGUAGES}
    return {
        "version": VERSION,
        "forms": {form.KIND: _form(form) for form in FORMS},
        "countries": {code: {lang: names[lang][code] for lang in LANGUAGES} for code in sorted(names["en"])},
        "statuses": {
            status: {"name": _msgid(name), "meaning": _msgid(meaning)}
            for status, (name, meaning) in STATUS_TEXT.items()
        },
    }


def encode(description: dict[str, Any]) -> bytes:
    """The description as the package ships it: UTF-8 JSON, one way, so a stale copy shows."""
    return (json.dumps(description, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
