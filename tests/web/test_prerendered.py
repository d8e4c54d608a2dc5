"""The pages rendered once and filled in are the pages the full render gives, byte for byte: every
status in every language, with and without a message, looked up by a typed code or from the
browser; the lookup form in every state; the receipt of every form in every language."""

import itertools

import pytest

from intake.formats import refcode, return_bundle

from ..actors import code_of
from ..conftest import LANGS, csrf_token, filled, import_return
from .test_status_page import mistypes, post_lookup_id

# A message with everything escaping must get right, and a line break and a right-to-left script.
MESSAGE = "Écrivez-nous <b>\"vite\"</b> & merci.\n☎ شكرا '٣'"
# A status of every kind on a day of its own, so that each page shows its own date.
DAYS = dict(
    zip(
        return_bundle.STATUSES,
        (
            "2026-01-01",
            "2026-02-09",
            "2026-03-10",
            "2026-04-28",
            "2026-05-30",
            "2026-07-31",
            "2026-09-05",
            "2026-12-19",
        ),
        strict=True,
    )
)
SEQUENCE = itertools.count(1)


def decide(site, generation, decisions: dict) -> None:
    """The secretariat's decisions (code -> status, message, day), signed and imported in one bundle."""
    updates = []
    for code, (status, message, day) in decisions.items():
        canonical = refcode.normalise(code)
        sealed = (
            return_bundle.seal_message(message, refcode.reply_key(canonical).public_key) if message else None
        )
        updates.append(return_bundle.Update(refcode.lookup_id(canonical), status, day, sealed))
    bundle = return_bundle.encode(
        return_bundle.ReturnBundle(next(SEQUENCE), "2026-12-31", tuple(updates), ()), generation.sign
    )
    import_return(site, bundle, generation.sign.verify_key)


def full_render(app, lang: str, served: str, render, *args) -> bytes:
    """What `render(*args)` gives when the page is rendered in full, in `lang`, with the form token
    the served page carries (Flask-WTF keeps a request's token in g)."""
    from flask import g
    from flask_babel import refresh

    with app.test_request_context(f"/{lang}/status"):
        g.lang = lang
        refresh()
        g.csrf_token = csrf_token(served) if 'name="csrf_token"' in served else "none shown"
        return render(*args).encode("utf-8")


def status_form(typed: str | None = None, problem: bool = False, expired: bool = False):
    """The lookup form as the full render had it: what was typed, checked, the token's error."""
    from intake.web.forms import StatusForm

    form = StatusForm(formdata=None, reference_code=typed)
    if problem:
        assert not form.reference_code.validate(form)
    if expired:
        form.csrf_token.errors = ["The CSRF token is invalid."]
    return form


def typed_answer(code: str, message: str | None, typed: str) -> str:
    """The full render of a status found by a typed code: the message opened, the code kept."""
    from intake.web import lookup

    found = lookup.find(refcode.lookup_id(refcode.normalise(code)))
    return lookup.padded(lookup.result_page(status_form(), found, shown_code=code, message=message), typed)


def browser_answer(code: str) -> str:
    """The full render of a status found by the lookup id lookup.js sends: the message sealed."""
    from intake.web import lookup

    found = lookup.find(refcode.lookup_id(refcode.normalise(code)))
    sealed = lookup.base64url(found.sealed_message) if found.sealed_message else None
    return lookup.padded(lookup.result_page(status_form(), found, sealed=sealed))


def form_answer(typed: str | None, state: str | None = None, problem: bool = False, expired: bool = False):
    """The full render of the lookup form: what was typed, why it cannot be a code, the state."""
    from intake.web import lookup

    page = lookup.page(status_form(typed, problem, expired), **({state: True} if state else {}))
    return lookup.padded(page, (typed or "").strip())


@pytest.mark.parametrize("lang", LANGS)
def test_every_status_is_the_full_render_by_typed_code_and_from_the_browser(
    app, client, defender, site, generation, lang
):
    codes = {
        (status, message): defender.submit(lang, "feedback", "x")
        for status in return_bundle.STATUSES
        for message in (None, MESSAGE)
    }
    # The server's own "received" stays as it filed it; every other one the secretariat decided.
    decide(
        site,
        generation,
        {code: (s, m, DAYS[s]) for (s, m), code in codes.items() if (s, m) != ("received", None)},
    )
    for (status, message), code in codes.items():
        typed = code.lower().replace("-", " ")
        served = defender.look_up(lang, typed)
        assert served.status_code == 200
        assert status != "more_info" or f'value="{code}"' in served.text  # the follow-up carries the code
        assert served.data == full_render(app, lang, served.text, typed_answer, code, message, typed)
        served = post_lookup_id(client, lang, refcode.lookup_id(refcode.normalise(code)).hex())
        assert served.status_code == 200
        assert (message is not None) == ('data-sealed="' in served.text)
        assert served.data == full_render(app, lang, served.text, browser_answer, code), (status, message)


@pytest.mark.parametrize("lang", LANGS)
def test_the_lookup_form_in_every_state_is_the_full_render(app, client, defender, lang):
    from intake.web import lookup

    def same(served, render, *args, **kwargs):
        assert served.data == full_render(app, lang, served.text, lambda: render(*args, **kwargs))

    same(client.get(f"/{lang}/status"), lambda: lookup.page(status_form()))  # unpadded: no lookup
    unknown = f" {refcode.display(refcode.make()).lower()} "
    same(defender.look_up(lang, unknown), form_answer, unknown, "not_found")
    for typed in [*mistypes(refcode.display(refcode.make())).values(), "", "<b>&\"'</b>" * 30]:
        served = defender.look_up(lang, typed)
        assert served.status_code == 400
        same(served, form_answer, typed, problem=True)
    for typed, problem in (("ABC", True), (refcode.display(refcode.make()), False)):
        body = f"csrf_token=stale&reference_code={typed}".encode()
        served = defender.post(f"/{lang}/status", body, "application/x-www-form-urlencoded")
        assert served.status_code == 403
        same(served, form_answer, typed, problem=problem, expired=True)
    # From the browser: nothing typed comes, and none is shown back.
    same(post_lookup_id(client, lang, refcode.lookup_id(refcode.make()).hex()), form_answer, "", "not_found")
    served = post_lookup_id(client, lang, "ab" * 31)
    assert served.status_code == 400
    same(served, form_answer, "", "damaged")
    served = client.post(f"/{lang}/status", data={"csrf_token": "stale", "lookup_id": "ab" * 32})
    assert served.status_code == 403
    same(served, form_answer, "", expired=True)


def test_a_busy_answer_is_the_full_render_both_ways(site):
    from intake import create_app

    from ..actors import Defender

    app = create_app({**site, "INTAKE_LOOKUPS_PER_MINUTE": "6"})  # one lookup in ten seconds
    client = app.test_client()
    defender = Defender(client)
    typed = "ABCDE-FGHJK"  # too short: the reason stays beside the field while busy
    busy = [a for a in (defender.look_up("fr", typed) for _ in range(3)) if a.status_code == 429]
    assert busy
    assert busy[0].data == full_render(app, "fr", busy[0].text, form_answer, typed, "busy", True)
    busy = post_lookup_id(client, "ar", refcode.lookup_id(refcode.make()).hex())
    assert busy.status_code == 429
    assert busy.data == full_render(app, "ar", busy.text, form_answer, "", "busy")


def test_an_offline_answer_keeps_what_was_typed_and_is_the_full_render(postgres, tmp_path, generation):
    """The drop box cannot be reached (here its PostgreSQL database is dropped under the site): the
    lookup answers 503, offline, with what was typed kept, at the one length, as the full render."""
    from intake import create_app

    from ..actors import Defender
    from ..conftest import make_site

    name = f"t_offline_{next(SEQUENCE)}_{refcode.make()[:8].lower()}"
    postgres.sql(f"CREATE DATABASE {name}")
    app = create_app(make_site(tmp_path, generation, postgres.url(name)))
    defender = Defender(app.test_client())
    typed = refcode.display(refcode.make())
    try:
        assert defender.look_up("es", typed).status_code == 200  # not found, the database there
        postgres.sql(f"DROP DATABASE {name} WITH (FORCE)")
        answer = defender.look_up("es", typed)
        assert answer.status_code == 503 and f'value="{typed}"' in answer.text
        assert answer.data == full_render(app, "es", answer.text, form_answer, typed, "offline")
    finally:
        app.extensions["intake"].store.db.close()


@pytest.mark.parametrize("lang", LANGS)
def test_every_receipt_is_the_full_render(app, defender, lang):
    from flask import g
    from flask_babel import refresh

    from intake.web import submit

    code = defender.submit(lang, "feedback", "x")
    for form in ("individual", "organisation", "feedback", "followup"):
        answers = {"reference_code": code, "message": "the date"} if form == "followup" else filled(form, "x")
        served = defender.send(lang, form, answers)
        assert served.status_code == 200
        shown = "" if form == "followup" else code_of(served.text)  # a follow-up's receipt shows none
        with app.test_request_context(f"/{lang}/{form}"):
            g.lang = lang
            refresh()
            assert served.data == submit.full_receipt(shown, form).encode("utf-8"), form


def test_each_defender_gets_a_form_token_of_their_own(app, site, generation):
    """A page rendered once must never carry the token of the defender it was first rendered for."""
    from ..actors import Defender

    first, second = Defender(app.test_client()), Defender(app.test_client())
    code = first.submit("es", "individual", "x")
    decide(site, generation, {code: ("more_info", "¿Cuándo?", "2026-11-21")})
    unknown = refcode.display(refcode.make())
    for defender in (first, second):
        # The lookup form, and the follow-up form under a found status, each sent with its own token.
        again = defender.look_up("es", unknown)
        token = csrf_token(again.text)
        body = f"csrf_token={token}&reference_code={unknown}".encode()
        assert defender.post("/es/status", body, "application/x-www-form-urlencoded").status_code == 200
        page = defender.look_up("es", code).text
        answers = {"reference_code": code, "message": "El 3 de mayo", "csrf_token": csrf_token(page)}
        body = "&".join(f"{k}={v}" for k, v in answers.items()).encode()
        sent = defender.post("/es/followup", body, "application/x-www-form-urlencoded")
        assert sent.status_code == 200, sent.text[:300]


def test_a_follow_up_under_a_status_is_sealed_to_the_key_in_use(app, defender, site, generation):
    """The follow-up form under "more information needed" names the submission key of the moment,
    also after a key rotation (the secretariat's signing key stays: its statuses still show)."""
    from pathlib import Path

    from intake.formats import keyfiles
    from intake.formats.keyring import Generation

    code = defender.submit("ru", "feedback", "x")
    decide(site, generation, {code: ("more_info", "Какая дата?", "2026-11-21")})
    before = defender.look_up("ru", code).text
    assert f'data-key-id="{generation.key_id.hex()}"' in before
    rotated, keys = Generation.new(), Path(site["INTAKE_KEYS_DIR"])
    for name in (keyfiles.SUBMISSION_FILE, keyfiles.SIGNING_FILE):
        (keys / name).unlink()
    keyfiles.write_public_keys(keys, rotated.box.public_key, generation.sign.verify_key)
    after = defender.look_up("ru", code).text
    assert f'data-key-id="{rotated.key_id.hex()}"' in after and "Какая дата?" in after
    assert f'data-public-key="{bytes(rotated.box.public_key).hex()}"' in after


def test_a_first_lookup_of_a_text_longer_than_any_code_does_not_set_the_answers_length(defender):
    """Pages rendered on demand (no warm-up: a worker started while the site was offline) are
    padded to the same length whatever text the first lookup brought."""
    long = defender.look_up("ru", '"' * 4000)  # shown back escaped: longer than any answer
    assert long.status_code == 400
    assert len(defender.look_up("ru", refcode.display(refcode.make())).data) < len(long.data)


@pytest.mark.system  # starts intake serve
def test_a_served_worker_pads_every_answer_to_one_length_whatever_its_first_lookup(tmp_path, site):
    """Each worker renders its pages, and sizes the padding, before its first request: the length
    of the answers cannot be set by whatever a worker's first lookup after a (re)start was."""
    from ..actors import Defender
    from ..conftest import service

    lengths = []
    for first in ('"' * 4000, "0"):  # text far longer than a code, shown back escaped; a short one
        with service(tmp_path / f"first-{len(first)}", site, INTAKE_WORKERS="1") as served:
            defender = Defender(url=served["url"])
            assert defender.look_up("ru", first).status_code == 400
            lengths.append(len(defender.look_up("ru", refcode.display(refcode.make())).data))
    assert lengths[0] == lengths[1]
