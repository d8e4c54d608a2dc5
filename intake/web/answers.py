"""A form's answers read and checked with the rules it gives the browser, without building the form.

Building a 25-field WTForms form costs more than sealing and storing the request (docs/benchmarks.md).
seal.js checks answers with each field's rules (fields.field_rule); the same rules, applied here as
the form's own validators apply them, accept the answers that need nothing said. Whenever a rule
does not hold, or the form would fill an answer in itself, this says nothing and the form is built:
it finds the same answers acceptable, or says why not, in the page's language, with the answers
kept. A test holds the two to the same answers on generated input.
"""

from typing import Any

from flask_babel import get_locale
from werkzeug.datastructures import MultiDict

from intake.web.fields import clean, code_as_stored, country_codes, whole_number

TEXT = {"StringField", "TextAreaField", "HiddenField", "NumberField"}  # read with the fields' filter: clean()
ONE = {"RadioField", "SelectField"}  # one of the choices, as sent
MANY = "MultiCheckboxField"  # any of the choices, as sent
COUNTRY = "CountryField"  # a country's name in the page's language (or its code), kept as its code


class Rules:
    """A form's field rules, in payload order, made ready to check answers against."""

    def __init__(self, rules: list[dict]):
        self.rules = [
            {**rule, "choices": frozenset(rule["choices"])} if "choices" in rule else rule for rule in rules
        ]
        self.usable = all(rule["type"] in TEXT | ONE | {MANY, COUNTRY} for rule in rules)

    def accepted(self, formdata: MultiDict) -> dict | None:
        """Every answer, cleaned and as stored, in payload order, when every rule holds; None when one
        does not, so that the form decides (it also fills in a required answer that was not sent)."""
        if not self.usable:
            return None
        read: dict[str, Any] = {}
        for rule in self.rules:
            name, kind = rule["name"], rule["type"]
            if kind == COUNTRY:  # as fields.CountryField reads it
                sent = formdata.get(name)
                read[name] = country_codes(str(get_locale())).get(sent, sent) if sent else sent
            elif kind == MANY:
                read[name] = formdata.getlist(name)
            elif kind in ONE:
                read[name] = formdata.get(name)
            else:
                read[name] = clean(formdata.get(name))
        answers: dict[str, Any] = {}
        for rule in self.rules:
            name = rule["name"]
            value = read[name]
            if not value:  # not given: sent empty, or not sent at all (a radio button left unchosen)
                if rule["required"] or _triggered(rule, read):
                    return None
                answers[name] = [] if rule["type"] == MANY else ""
                continue
            checked = _checked(rule, value)
            if checked is None:
                return None
            answers[name] = checked
        return answers


def _triggered(rule: dict, read: dict) -> bool:
    """True if another answer makes this one required (fields.RequiredIf)."""
    if not rule["requiredIf"]:
        return False
    other, values = rule["requiredIf"]
    chosen = read[other]
    return bool(set(chosen if isinstance(chosen, list) else [chosen]) & set(values))


def _checked(rule: dict, value):
    """An answer given, as stored, or None if a rule refuses it."""
    values = value if isinstance(value, list) else [value]
    if "choices" in rule and any(v and v not in rule["choices"] for v in values):  # as fields.OneOf
        return None
    if "max" in rule and len(value) > rule["max"]:
        return None
    if "number" in rule:
        return whole_number(value, rule["number"])
    if rule.get("refcode"):
        return code_as_stored(value)
    return value
