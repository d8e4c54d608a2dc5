"""The status page without JavaScript, as a defender meets it: what was typed stays, a code that
cannot be a code is told so, and a found status shows one way on."""

import base64
import hashlib
import html
import itertools
import json
import re

import pytest
from markupsafe import escape

from intake.formats import refcode, return_bundle

from ..conftest import LANGS, ROOT, csrf_token, import_return


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


SEQUENCE = itertools.count(1)  # each return bundle's is newer than the last


def decide(site, generation, code: str, status: str, message: str | None = None, **more) -> None:
    """The secretariat's decisions (this code's, and `more`: code -> (status, message)), signed and
    imported in one bundle as `intake import` does."""
    updates = []
    for each, (decided, text) in {code: (status, message), **more}.items():
        canonical = refcode.normalise(each)
        key = refcode.reply_key(canonical).public_key
        sealed = return_bundle.seal_message(text, key) if text else None
        updates.append(return_bundle.Update(refcode.lookup_id(canonical), decided, "2026-11-21", sealed))
    bundle = return_bundle.encode(
        return_bundle.ReturnBundle(next(SEQUENCE), "2026-11-21", tuple(updates), ()), generation.sign
    )
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


# With JavaScript, the page derives the lookup id from the code and posts only that (lookup.js);
# these post what the script posts, as any client could.


def post_lookup_id(client, lang: str, lookup_id: str | None, **more):
    """A lookup as lookup.js sends it: the page's token and the lookup id in hex."""
    token = csrf_token(client.get(f"/{lang}/status").text)
    data = {"csrf_token": token, **({} if lookup_id is None else {"lookup_id": lookup_id}), **more}
    return client.post(f"/{lang}/status", data=data)


def sealed_in(page: str) -> bytes | None:
    """The sealed message a browser-sealed answer carries for the page to open, if any."""
    match = re.search(r'data-sealed="([A-Za-z0-9_-]+)"', page)
    return base64.urlsafe_b64decode(match.group(1) + "==") if match else None


@pytest.mark.parametrize("lang", LANGS)
def test_a_lookup_id_alone_brings_the_status_and_the_message_sealed(
    app, client, defender, site, generation, lang
):
    code = defender.submit(lang, "individual", "x")
    asked = "Envoyez la date de l'audience. ☎"
    decide(site, generation, code, "more_info", asked)
    canonical = refcode.normalise(code)
    page = post_lookup_id(client, lang, refcode.lookup_id(canonical).hex())
    assert page.status_code == 200
    assert f"<h2>{translated(app, lang, 'More information needed')}</h2>" in page.text
    # The message comes sealed, as the secretariat sealed it: only the code opens it.
    assert return_bundle.open_message(sealed_in(page.text), refcode.reply_key(canonical)) == asked
    assert asked not in page.text and str(escape(asked)) not in page.text
    # The server never had the code: the follow-up form's hidden field waits for the page to fill it.
    assert 'name="reference_code" type="hidden" value=""' in page.text
    assert canonical not in page.text and code not in page.text and code.lower() not in page.text
    forms = re.findall(r"<form\b[^>]*>", page.text)
    assert len(forms) == 1 and 'data-kind="followup"' in forms[0]


@pytest.mark.parametrize("lang", LANGS)
def test_known_unknown_and_damaged_lookup_ids_answer_in_one_length(
    app, client, defender, site, generation, lang
):
    codes = [refcode.normalise(defender.submit(lang, "feedback", "x")) for _ in range(3)]
    longest = "ش" * (return_bundle.MAX_MESSAGE // 2)
    decide(site, generation, codes[1], "accepted", longest, **{codes[2]: ("more_info", '<"&>' * 300)})
    known = [post_lookup_id(client, lang, refcode.lookup_id(c).hex()) for c in codes]
    unknown = post_lookup_id(client, lang, refcode.lookup_id(refcode.make()).hex())
    damaged = [
        post_lookup_id(client, lang, lookup_id, **more)
        for lookup_id, more in [
            ("", {}),
            ("ab" * 31, {}),  # too short
            ("ab" * 33, {}),  # too long
            (refcode.lookup_id(codes[0]).hex().upper(), {}),  # not as the page writes it
            ("zz" * 32, {}),
            (
                refcode.lookup_id(codes[0]).hex(),
                {"reference_code": refcode.display(codes[0])},
            ),  # and the code
        ]
    ]
    assert [a.status_code for a in [*known, unknown]] == [200] * 4
    assert translated(app, lang, "No request found") in unknown.text
    assert all(a.status_code == 400 for a in damaged)
    told = html.unescape(translated(app, lang, "Nothing was looked up"))
    assert all(told in html.unescape(a.text) for a in damaged)
    assert all(translated(app, lang, "No request found") not in a.text for a in damaged)
    assert len({len(a.data) for a in [*known, unknown, *damaged]}) == 1
    # And one length with the answers to a typed code: the two ways cannot be told apart by length.
    assert len(defender.look_up(lang, refcode.display(codes[1])).data) == len(unknown.data)


def test_a_lookup_id_counts_against_the_rate_and_needs_the_token(site, app):
    from intake import create_app

    client = create_app({**site, "INTAKE_LOOKUPS_PER_MINUTE": "6"}).test_client()
    lookup_id = refcode.lookup_id(refcode.make()).hex()
    answers = [post_lookup_id(client, "ru", lookup_id) for _ in range(3)]  # one lookup in ten seconds
    assert 429 in [a.status_code for a in answers]
    busy = next(a for a in answers if a.status_code == 429)
    assert translated(app, "ru", "The site is very busy right now") in busy.text
    expired = client.post("/ru/status", data={"csrf_token": "stale", "lookup_id": lookup_id})
    assert expired.status_code == 403
    assert (
        translated(
            app,
            "ru",
            "For your safety, the form has expired. Your answers are still here: please check them and send again.",
        )
        in expired.text
    )
    assert len({len(a.data) for a in [*answers, expired]}) == 1


@pytest.mark.parametrize("lang", LANGS[1:])
def test_what_the_pages_script_says_is_translated(client, lang):
    def said(language):
        page = client.get(f"/{language}/status").text
        return json.loads(html.unescape(re.search(r'data-messages="([^"]*)"', page).group(1)))

    ours, english = said(lang), said("en")
    assert ours.keys() == english.keys() and len(ours) >= 10
    assert [key for key in ours if ours[key] == english[key]] == []
    assert "%(count)d" in ours["length"]  # the script puts the number in


def test_the_status_page_may_post_to_itself_and_run_only_its_own_pinned_scripts(client):
    response = client.get("/ar/status")
    policy = dict(part.split(" ", 1) for part in response.headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'" and policy["form-action"] == "'self'"
    scripts = re.findall(
        r'<script src="/static/([\w./-]+)" integrity="(sha384-[\w+/=]+)" defer></script>', response.text
    )
    assert [name for name, _ in scripts][-2:] == ["lookup-format.js", "lookup.js"]
    for name, integrity in scripts:
        digest = hashlib.sha384((ROOT / "intake" / "static" / name).read_bytes()).digest()
        assert integrity == "sha384-" + base64.b64encode(digest).decode()
