"""Form building blocks: text cleaning, translated validators, the choice lists shared by forms."""

import functools
import re
import unicodedata

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # WTForms 3.3; stubs lack it
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, Select

from intake.formats import languages, refcode

# Control characters other than newline and tab would cost up to 6 bytes each in JSON.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(value):
    """Normalise typed text: NFC, trimmed, newlines as \\n, no control characters."""
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", value).strip()


class Required:
    """The field must be answered (a list must have at least one choice)."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        if not field.data:
            message = _l("Please choose at least one.") if isinstance(field.data, list) else None
            field.errors[:] = []
            raise StopValidation(message or _l("Please answer this question."))


class RequiredIf:
    """Required when another field has one of the given values (or, for a list, contains one).
    `when` says so beside the question, in the defender's words: "(only if you chose Other)"."""

    def __init__(self, other: str, *values: str, when):
        self.other, self.values, self.when = other, values, when

    def __call__(self, form, field):
        data = form[self.other].data
        chosen = set(data) if isinstance(data, list) else {data}
        if chosen & set(self.values) and not field.data:
            raise StopValidation(_l("Please answer this question."))


class MaxLength:
    """At most `max` characters after cleaning, stated under the question unless `stated` is False
    (a reference code's guard is no limit a defender needs to read)."""

    def __init__(self, max: int, stated: bool = True):
        self.max = max
        self.field_flags = {"maxlength": max} if stated else {}

    def __call__(self, form, field):
        if field.data and len(field.data) > self.max:
            raise ValidationError(_l("Please shorten this to %(max)d characters or fewer.", max=self.max))


class OneOf:
    """The answer is one of the field's own choices (or empty, when the field is optional)."""

    def __call__(self, form, field):
        allowed = {choice.value for choice in field.choices}
        values = field.data if isinstance(field.data, list) else [field.data]
        if any(v and v not in allowed for v in values):
            raise StopValidation(_l("Please choose one of the options."))


class WholeNumber:
    """A whole number between 0 and `high`, written with any digits and separators people use."""

    def __init__(self, high: int):
        self.high = high

    def __call__(self, form, field):
        if not field.data:
            return
        digits = re.sub(r"[\s,.'٬\u00a0\u202f]", "", field.data)
        try:
            value = int(digits)  # int() reads Arabic-Indic and other Unicode digits too
        except ValueError:
            value = -1
        if not 0 <= value <= self.high:
            raise ValidationError(_l("Please write a whole number, for example 3000."))
        field.data = str(value)


class ReferenceCode:
    """A reference code as people type it; stored in its display form. One that cannot be a code
    is told why, as the status page tells it (CODE_PROBLEMS)."""

    def __call__(self, form, field):
        if not field.data:
            return
        try:
            field.data = refcode.display(refcode.normalise(field.data))
        except refcode.InvalidCode as e:
            raise ValidationError(code_problem(e.reason, e.count)) from None


# What the status page says of a code that cannot be a code (refcode.InvalidCode's reasons), each
# with what to do about it. None of them tells anything about which codes exist.
CODE_PROBLEMS = {
    "empty": _l("Please type your reference code."),
    "length": _l(
        "A reference code has 20 letters and digits, not counting hyphens and spaces, and this has "
        "%(count)d. Please compare it with the code you wrote down: one may be missing or extra."
    ),
    "symbols": _l(
        "This contains a character that is never part of a reference code: a reference code has "
        "only digits and Latin letters. Please compare it with the code you wrote down."
    ),
    "check": _l(
        "This code has a typing mistake: a letter or digit may be wrong, or two next to each other "
        "swapped. Please compare it, group by group, with the code you wrote down."
    ),
}


def code_problem(reason: str, count: int) -> str:
    """The status page's sentence for a code that cannot be a code, in the page's language."""
    return str(CODE_PROBLEMS[reason]) % {"count": count}


class TypedCode:
    """The status page's reference code, kept as typed; why it cannot be a code, when it cannot."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        if not field.data:
            raise StopValidation(code_problem("empty", 0))
        try:
            refcode.normalise(field.data)
        except refcode.InvalidCode as e:
            raise StopValidation(code_problem(e.reason, e.count)) from None


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes; choices are checked by OneOf with our message, not WTForms'."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        """Leave choice checking to OneOf."""


URGENCY = [
    ("critical", _l("Very urgent: help is needed within days")),
    ("high", _l("Urgent: help is needed within weeks")),
    ("normal", _l("Not urgent")),
]
YES_NO = [("yes", _l("Yes")), ("no", _l("No"))]
YES_NO_UNSURE = [*YES_NO, ("not_sure", _l("I am not sure"))]
CONTACT_METHODS = [
    ("this_site", _l("Only on this website, with my reference code")),
    ("email", _l("Email")),
    ("messaging_app", _l("An encrypted messaging app")),
    ("phone", _l("Phone call or SMS")),
    ("other", _l("Another way")),
]
# Language names are written in their own language and never translated.
CONTACT_LANGUAGES = [(code, name) for code, (name, _direction) in languages.LANGUAGES.items()]
CONFIDENTIALITY = [
    ("keep_confidential", _l("No, keep it confidential")),
    ("may_share_with_partners", _l("Yes, you may share it with partner organisations that can help")),
]
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}


def countries(first_label) -> list[SelectChoice]:
    """ISO 3166 countries named in the page's language (Babel's CLDR data), sorted by name."""
    return [SelectChoice("", first_label), *_countries(str(get_locale()))]


@functools.cache
def _countries(locale: str) -> tuple[SelectChoice, ...]:
    # Building and sorting CLDR's 250 names took half of a submission's time: once per locale.
    names = Locale.parse(locale).territories
    pairs = [(code, name) for code, name in names.items() if len(code) == 2 and code not in _NOT_COUNTRIES]
    return tuple(as_choices(sorted(pairs, key=lambda pair: _sort_key(pair[1]))))


def country_names(locale: str) -> dict[str, str]:
    """ISO 3166 code -> country name in `locale`, the names the forms offer (for the offline tool)."""
    return {choice.value: str(choice.label) for choice in _countries(locale)}


def _sort_key(name: str) -> str:
    # Accents do not move a name to the end of the list: Ö sorts with O.
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def text(label, limit, *validators, help=None, area=False):
    """A cleaned text field with a maximum length."""
    kind = TextAreaField if area else StringField
    return kind(label, [*validators, MaxLength(limit)], filters=[clean], description=help)


class NumberField(StringField):
    """A number kept as WholeNumber reads it ("3000"), and shown again as it was typed (in Arabic-Indic
    digits, say) when the form comes back: nobody should find their answer rewritten."""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return str(self.data) if self.data is not None else ""


def number(label, high, help=None):
    """A whole number, typed on a phone's number keyboard (any digits and separators are read)."""
    return NumberField(
        label, [WholeNumber(high)], filters=[clean], description=help, render_kw={"inputmode": "numeric"}
    )


# A reference code is typed in capitals, left to right, and no spelling checker may "correct" it.
CODE_INPUT = {"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false", "dir": "ltr"}


def note(field):
    """What the page says beside a question about answering it: "(optional)", the case in which
    it is needed, or nothing for a question that must be answered."""
    for validator in field.validators:
        if isinstance(validator, Required):
            return None
        if isinstance(validator, RequiredIf):
            return validator.when
    return _l("(optional)")


def as_choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms wants them."""
    return [SelectChoice(value, label) for value, label in pairs]


class CountryList(Select):
    """A country list in the lightest valid HTML: `<option>Ukraine`, the name alone. An option
    without a value sends its text, and its end tag may be left out; CountryField reads the name
    back as the country's code. Two lists of 257 countries were a third of the individual form."""

    @classmethod
    def render_option(cls, choice, **kwargs):  # type: ignore[override]  # WTForms 3.3; stubs have 3.2
        """One country, or the empty first choice (which keeps its value: its text is a prompt)."""
        selected = Markup(" selected") if choice.selected else ""
        value = "" if choice.value else Markup(' value=""')
        return Markup("<option{}{}>{}").format(selected, value, choice.label)  # the label escaped


class CountryField(SelectField):
    """A country from the list in the page's language (the form fills it in when made), sent as its
    name (CountryList) and kept as its ISO code. A code is read as itself: a page rendered before."""

    widget = CountryList()

    def process_formdata(self, valuelist):
        """The code of the country named, in the page's language."""
        super().process_formdata(valuelist)
        self.data = country_codes(str(get_locale())).get(self.data, self.data)


@functools.cache
def country_codes(locale: str) -> dict[str, str]:
    """A country's name in `locale` -> its ISO code (names are unique in each language's list)."""
    return {str(choice.label): choice.value for choice in _countries(locale)}


def country_choice(label, *validators, help=None):
    """A country, chosen from the list in the page's language."""
    return CountryField(label, [*validators, OneOf()], choices=[], validate_choice=False, description=help)


def choice(label, pairs, *validators, help=None, kind=RadioField):
    """A radio or select field whose answer must be one of its choices."""
    return kind(
        label, [*validators, OneOf()], choices=as_choices(pairs), validate_choice=False, description=help
    )


def checkboxes(label, pairs, *validators, help=None):
    """Checkboxes whose answers must all be among the choices."""
    return MultiCheckboxField(label, [*validators, OneOf()], choices=as_choices(pairs), description=help)


def field_rule(field) -> dict:
    """Describe a field's server-side checks so seal.js can apply the same ones (docs/decisions.md)."""
    rule = {"name": field.name, "type": field.type, "required": False, "requiredIf": None}
    for validator in field.validators:
        if isinstance(validator, Required):
            rule["required"] = True
        elif isinstance(validator, RequiredIf):
            rule["requiredIf"] = [validator.other, list(validator.values)]
        elif isinstance(validator, MaxLength):
            rule["max"] = validator.max
        elif isinstance(validator, WholeNumber):
            rule["number"] = validator.high
        elif isinstance(validator, ReferenceCode):
            rule["refcode"] = True
        elif isinstance(validator, OneOf):
            rule["choices"] = [choice.value for choice in field.choices]
    if isinstance(field, CountryField):
        rule["country"] = True  # sent as its name: the checks' table gives its code
    return rule
