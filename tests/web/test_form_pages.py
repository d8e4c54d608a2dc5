"""What a defender reads on the form pages, in every language and state, without a browser."""

import re
from html.parser import HTMLParser

import pytest

from ..actors import code_of
from ..conftest import LANGS, csrf_token, filled

FORMS = ("individual", "organisation", "feedback")


class Page(HTMLParser):
    """A page as a screen reader meets it: its ids, the ids its controls point to, its text."""

    def __init__(self, html: str):
        super().__init__()
        self.ids: set[str] = set()
        self.references: list[tuple[str, str]] = []  # (attribute, id)
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id":
                self.ids.add(value)
            elif name in ("aria-describedby", "aria-labelledby", "for"):
                self.references += [(name, ref) for ref in (value or "").split()]

    def handle_data(self, data):
        if data.strip():
            self.texts.append(data.strip())


def form_states(client, lang: str):
    """Each form as a defender meets it: empty, and sent back with every kind of error."""
    for form in FORMS:
        yield f"{form} (empty)", client.get(f"/{lang}/{form}").text
        token = csrf_token(client.get(f"/{lang}/{form}").text)
        wrong = {"csrf_token": token, "urgency": "x", "amount_eur": "many", "measures": "other",
                 "applied_elsewhere": "yes", "contact_method": "email", "reference_code": "nope"}  # fmt: skip
        yield f"{form} (errors)", client.post(f"/{lang}/{form}", data=wrong).text
    yield "status", client.get(f"/{lang}/status").text


@pytest.mark.parametrize("lang", LANGS)
def test_no_question_says_none_and_every_description_exists(client, lang):
    for state, html in form_states(client, lang):
        page = Page(html)
        assert "None" not in page.texts, state
        missing = [ref for ref in page.references if ref[1] not in page.ids]
        assert missing == [], state
        # A help paragraph is there only to say something.
        assert not re.search(r'<p class="help"[^>]*>\s*</p>', html), state


def translated(app, lang: str, msgid: str, **values) -> str:
    """A message as the page in `lang` shows it."""
    from flask import g
    from flask_babel import gettext, refresh

    with app.test_request_context(f"/{lang}/"):
        g.lang = lang
        refresh()
        return gettext(msgid, **values)


FILES_NOT_KEPT = "For your safety, files are not kept when a form comes back: please choose them again."


@pytest.mark.parametrize("lang", LANGS)
def test_the_files_warning_only_when_files_were_chosen(app, defender, lang):
    warning = translated(app, lang, FILES_NOT_KEPT)
    answers = {**filled("individual", "x"), "defender_name": ""}  # one error sends the form back
    # A browser sends the empty file input as a part with no name and no bytes.
    nothing = defender.send(lang, "individual", answers, files=[("", b"", "application/octet-stream")])
    assert nothing.status_code == 400 and warning not in nothing.text
    chosen = defender.send(lang, "individual", answers, files=[("letter.pdf", b"%PDF-1.4 evidence")])
    assert chosen.status_code == 400 and warning in chosen.text


def languages_of(html: str) -> dict[str, str]:
    """The header's language links: language -> where each leads."""
    nav = re.search(r'<ul class="languages">(.*?)</ul>', html, re.S).group(1)
    return {lang: href for href, lang in re.findall(r'<a href="([^"]*)" lang="(\w+)"', nav)}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("form", FORMS)
def test_the_receipt_can_be_read_in_every_language_without_losing_the_code(app, defender, lang, form):
    page = defender.send(lang, form, filled(form, "RECEIPTLANG")).text
    code = code_of(page)
    links = languages_of(page)
    assert set(links) == set(LANGS)
    for other, href in links.items():
        # Each language link stays on this page (a fragment naming a language, never the code),
        # where the receipt is in that language, with the code.
        assert href == f"#receipt-{other}", href
        block = re.search(rf'<section id="receipt-{other}" lang="{other}"[^>]*>(.*?)</section>', page, re.S)
        assert block, other
        assert f'<bdi dir="ltr">{code}</bdi>' in block.group(1)
        heading = translated(app, other, "Your request has been sent")
        assert f"<h1>{heading}</h1>" in block.group(1), other
    assert all(code not in href for href in re.findall(r'(?:href|action)="([^"]*)"', page))


def questions(html: str) -> dict[str, str]:
    """Each question's id -> the words of its label or legend, as read out."""
    found = {}
    for ident, text in re.findall(r'<label for="([^"]+)">(.*?)</label>', html, re.S):
        found[ident] = text
    for ident, text in re.findall(r'<fieldset [^>]*id="([^"]+)"[^>]*>\s*<legend>(.*?)</legend>', html, re.S):
        found[ident] = text
    return {ident: " ".join(re.sub(r"<[^>]+>", "", text).split()) for ident, text in found.items()}


def form_class(form: str):
    from intake.web.forms import FeedbackForm
    from intake.web.support_forms import IndividualForm, OrganisationForm

    return {"individual": IndividualForm, "organisation": OrganisationForm, "feedback": FeedbackForm}[form]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("form", FORMS)
def test_every_question_says_whether_it_needs_an_answer(app, client, lang, form):
    from intake.web.fields import Required, RequiredIf

    page = client.get(f"/{lang}/{form}").text
    asked = questions(page)

    def said(text: str) -> str:  # as the page's label reads, spaces (no-break ones too) as one
        return " ".join(text.split())

    optional = said(translated(app, lang, "(optional)"))
    for names in (names for _, names in form_class(form).SECTIONS):
        for name in names:
            validators = (
                getattr(form_class(form), name).kwargs.get("validators")
                or getattr(form_class(form), name).args[1]
            )
            label = asked[name]
            conditions = [v for v in validators if isinstance(v, RequiredIf)]
            if any(isinstance(v, Required) for v in validators):
                assert optional not in label and "(" not in label, label
            elif conditions:  # needed only in a case the label names
                assert label.endswith(said(translated(app, lang, str(conditions[0].when._args[0])))), label
            else:
                assert label.endswith(optional), label
    if form != "feedback":
        assert asked["attachments"].endswith(optional)


@pytest.mark.parametrize("lang", LANGS)
def test_numbers_are_asked_for_as_numbers(app, client, lang):
    for form, names in (("individual", ["amount_eur"]), ("organisation", ["amount_eur", "members_at_risk"])):
        page = client.get(f"/{lang}/{form}").text
        for name in names:
            control = re.search(rf'<input [^>]*id="{name}"[^>]*>', page).group(0)
            assert 'inputmode="numeric"' in control  # a phone shows its number keyboard
            help_text = re.search(rf'<p class="help" id="{name}-help">(.*?)</p>', page, re.S).group(1)
            limit = translated(app, lang, "At most %(max)d characters.", max=16)
            assert limit not in help_text and "16" not in help_text
    # Reference codes are typed as codes: capitals, no spelling corrections, left to right.
    page = client.get(f"/{lang}/feedback").text
    control = re.search(r'<input [^>]*id="reference_code"[^>]*>', page).group(0)
    for attribute in ('autocapitalize="characters"', 'spellcheck="false"', 'dir="ltr"'):
        assert attribute in control
    assert translated(app, lang, "At most %(max)d characters.", max=40) not in page


LIGHT = 45_000  # bytes: a page a defender on a slow Tor link, without JavaScript, downloads whole


@pytest.mark.parametrize("lang", LANGS)
def test_every_form_is_light_without_javascript(client, lang):
    """What the server sends for each form page (the style sheet, cached after the first page,
    apart): the individual form, the largest, with its two country lists, too."""
    for form in FORMS:
        sent = client.get(f"/{lang}/{form}")
        assert sent.status_code == 200 and len(sent.data) < LIGHT, (form, len(sent.data))
