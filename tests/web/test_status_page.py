"""The status page without JavaScript, as a defender meets it: what was typed stays, a code that
cannot be a code is told so, and a found status shows one way on."""

import html
import re

import pytest
from markupsafe import escape

from intake.formats import refcode, return_bundle

from ..conftest import LANGS, import_return


def translated(app, lang: str, text, **values) -> str:
    """A message as the page in `lang` shows it, escaped as in the page."""
    from flask import g
    from flask_babel import gettext, refresh

    with app.test_request_context(f"/{lang}/"):
        g.lang = lang
        refresh()
        return str(escape(gettext(text, **values)))  # as Jinja escapes it


def shown(app, lang: str, function, *args) -> str:
    """What a function of the page's texts gives in `lang` (unescaped)."""
    from flask import g
    from flask_babel import refresh

    with app.test_request_context(f"/{lang}/"):
        g.lang = lang
        refresh()
        return str(function(*args))


def field_value(page: str) -> str | None:
    """What the reference code field holds as the page shows it, or None if the page has none."""
    match = re.search(r'<input[^>]*\bname="reference_code"[^>]*>', page)
    if match is None or 'type="hidden"' in match.group(0):
        return None
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


def decide(site, generation, code: str, status: str, message: str | None = None) -> None:
    """The secretariat's decision on a code, signed and imported as `intake import` does."""
    canonical = refcode.normalise(code)
    sealed = return_bundle.seal_message(message, refcode.reply_key(canonical).public_key) if message else None
    update = return_bundle.Update(refcode.lookup_id(canonical), status, "2026-11-21", sealed)
    bundle = return_bundle.encode(return_bundle.ReturnBundle(1, "2026-11-21", (update,), ()), generation.sign)
    import_return(site, bundle, generation.sign.verify_key)


def mistypes(code: str) -> dict[str, str]:
    """A real code mistyped each way that cannot be a code, as a person would type it."""
    canonical = refcode.normalise(code)
    changed = "0" if canonical[7] != "0" else "1"
    return {
        "short": code[:-1],  # a symbol missing
        "long": code + "7",  # one too many
        "symbols": code[:-1] + "U",  # a letter no code has
        "check": refcode.display(canonical[:7] + changed + canonical[8:]).lower(),  # one symbol wrong
    }


PROBLEMS = {
    "short": ("length", 19),
    "long": ("length", 21),
    "symbols": ("symbols", 20),
    "check": ("check", 20),
}


@pytest.mark.parametrize("lang", LANGS)
def test_a_code_that_cannot_be_a_code_is_told_so_and_stays_in_the_field(app, defender, lang):
    from intake.web.fields import code_problem

    code = defender.submit(lang, "feedback", "x")
    for name, typed in mistypes(code).items():
        page = defender.look_up(lang, typed)
        assert page.status_code == 400, name
        assert field_value(page.text) == typed, name  # kept, to be checked and corrected
        told = shown(app, lang, code_problem, *PROBLEMS[name])
        assert told and str(escape(told)) in page.text, name
        # Identified: the summary links to the field, which says it is invalid and why.
        assert re.search(r'<div class="summary" role="alert"[^>]*>', page.text)
        assert f'<a href="#reference_code">{translated(app, lang, "Your reference code")}</a>' in page.text
        assert 'aria-invalid="true"' in page.text
        assert 'aria-describedby="reference_code-help reference_code-error"' in page.text
        assert translated(app, lang, "No request found") not in page.text  # not the neutral answer


@pytest.mark.parametrize("lang", LANGS[1:])
def test_the_shape_messages_are_translated(app, lang):
    from intake.web.fields import code_problem

    for reason in ("empty", "length", "symbols", "check"):
        told = shown(app, lang, code_problem, reason, 19)
        assert told != shown(app, "en", code_problem, reason, 19), reason
        assert reason != "length" or "19" in told


@pytest.mark.parametrize("lang", LANGS)
def test_an_unknown_code_gets_the_neutral_answer_and_stays_in_the_field(app, defender, lang):
    unknown = refcode.display(refcode.make()).lower()
    page = defender.look_up(lang, unknown)
    assert page.status_code == 200
    assert translated(app, lang, "No request found") in page.text
    assert field_value(page.text) == unknown
    assert 'aria-invalid="true"' not in page.text


@pytest.mark.parametrize("lang", LANGS)
def test_an_empty_code_is_asked_for(app, defender, lang):
    page = defender.look_up(lang, "   ")
    assert page.status_code == 400
    assert translated(app, lang, "Please type your reference code.") in page.text


@pytest.mark.parametrize("lang", LANGS)
def test_more_information_needed_shows_one_form_and_never_asks_for_the_code_again(
    app, defender, site, generation, lang
):
    code = defender.submit(lang, "individual", "x")
    decide(site, generation, code, "more_info", "Send the date of the hearing.")
    page = defender.look_up(lang, code).text
    forms = re.findall(r"<form\b[^>]*>", page)
    assert len(forms) == 1 and 'data-kind="followup"' in forms[0]  # the follow-up, and nothing else
    assert len(re.findall(r"<button\b", page)) == 1
    assert field_value(page) is None  # the code travels in the follow-up, hidden: not asked again
    assert f'name="reference_code" type="hidden" value="{code}"' in page
    # Another code can still be checked, from a link that cannot be taken for the follow-up's button.
    another = translated(app, lang, "Check another reference code")
    assert f'<a href="/{lang}/status">{another}</a>' in page


@pytest.mark.parametrize("lang", LANGS)
def test_a_found_status_offers_a_link_for_another_code_not_a_second_form(
    app, defender, site, generation, lang
):
    code = defender.submit(lang, "feedback", "x")
    decide(site, generation, code, "accepted", "We will write to you.")
    page = defender.look_up(lang, code).text
    assert "We will write to you." in page
    assert "<form" not in page and field_value(page) is None
    assert translated(app, lang, "Check another reference code") in page


def test_a_busy_site_and_an_expired_form_keep_the_code_in_one_length(site, app):
    from intake import create_app

    from ..actors import Defender

    defender = Defender(create_app({**site, "INTAKE_LOOKUPS_PER_MINUTE": "6"}).test_client())
    typed = refcode.display(refcode.make()).lower()
    answers = [defender.look_up("ar", typed) for _ in range(3)]  # one lookup in ten seconds
    busy = [a for a in answers if a.status_code == 429]
    assert busy and all(field_value(a.text) == typed for a in answers)
    assert translated(app, "ar", "The site is very busy right now") in busy[0].text
    expired = defender.post(
        "/ar/status", f"csrf_token=stale&reference_code={typed}".encode(), "application/x-www-form-urlencoded"
    )
    assert expired.status_code == 403 and field_value(expired.text) == typed
    assert len({len(a.data) for a in [*answers, expired]}) == 1
