"""The quick way to accept a form (its rules, the form not built: web/answers.py) accepts exactly
what the form accepts, with the same answers as stored; only an answer the form fills in itself (a
required one that was not sent) is left to the form. Generated input, as in test_validators.py."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from intake.formats import refcode

from ..conftest import LANGS, filled
from .test_validators import NUMBER_TEXT, SAMPLE_CODE, TEXT, around, typed_codes

FORMS = ("individual", "organisation", "feedback", "followup")
DEFAULTS = ("contact_language", "confidentiality")  # what the forms fill in when it is not sent
NOT_SENT = object()
# The app is only read; Hypothesis runs many examples on one.
MANY = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def form_class(name: str):
    from intake.web.forms import FeedbackForm, FollowupForm
    from intake.web.support_forms import IndividualForm, OrganisationForm

    return {"individual": IndividualForm, "organisation": OrganisationForm}.get(name) or {
        "feedback": FeedbackForm,
        "followup": FollowupForm,
    }[name]


def typical(name: str) -> dict:
    """What a defender sends: every question answered."""
    if name == "followup":
        return {"reference_code": SAMPLE_CODE.lower(), "message": "٣ May", "contact_details": ""}
    return filled(name, "m")


def both_ways(name: str, raw: MultiDict) -> tuple:
    """(the quick way's answers or None, the form's answers if it accepts them or None), in the
    request's language (a request context must be active)."""
    from intake.web.answers import Rules

    cls = form_class(name)
    form = cls(formdata=raw, meta={"csrf": False})
    full = form.answers() if form.validate() else None
    return Rules(cls(formdata=None, meta={"csrf": False}).rules()).accepted(raw), full


def answer_for(rule: dict):
    """Anything a crafted or a careless request may send for a field, or nothing at all."""
    if rule["type"] == "MultiCheckboxField":
        return st.lists(st.sampled_from([*rule["choices"], "", "nope"]), max_size=3)
    if rule["type"] == "CountryField":  # sent by its name in the page's language, or as a code
        from flask_babel import get_locale

        from intake.web.fields import country_codes

        names = sorted(country_codes(str(get_locale())))
        return (
            st.sampled_from(rule["choices"])
            | st.sampled_from(names)
            | st.sampled_from(["nope", " UA", NOT_SENT])
        )
    if rule["type"] in ("RadioField", "SelectField"):
        return st.sampled_from(rule["choices"]) | st.sampled_from(["", "nope", " yes", NOT_SENT])
    if "number" in rule:
        return NUMBER_TEXT | st.just(NOT_SENT)
    if rule.get("refcode"):
        return typed_codes() | TEXT | st.just(NOT_SENT)
    return TEXT | around(rule["max"]) | st.sampled_from(["", " ", NOT_SENT])


def as_posted(answers: dict) -> MultiDict:
    """The answers as a form post carries them (a list as repeated values)."""
    posted = MultiDict()
    for name, value in answers.items():
        if value is not NOT_SENT:
            posted.setlist(name, value if isinstance(value, list) else [value])
    return posted


@pytest.mark.parametrize("name", FORMS)
@MANY
@given(data=st.data())
@example(data=None)  # the answers as a defender sends them, unchanged
def test_the_quick_way_accepts_what_the_form_accepts_with_the_same_answers(app, name, data):
    from flask import g
    from flask_babel import refresh

    lang = data.draw(st.sampled_from(LANGS)) if data else "ar"
    with app.test_request_context(f"/{lang}/{name}"):
        g.lang = lang
        refresh()
        answers = typical(name)
        if data:
            rules = form_class(name)(formdata=None, meta={"csrf": False}).rules()
            changed = data.draw(st.lists(st.sampled_from(rules), max_size=4, unique_by=lambda r: r["name"]))
            answers |= {rule["name"]: data.draw(answer_for(rule)) for rule in changed}
        quick, full = both_ways(name, as_posted(answers))
    if any(answers.get(field, "x") in ("", NOT_SENT) for field in DEFAULTS):
        assert quick is None  # the form fills it in, and decides
    else:
        assert quick == full
    assert data or quick is not None


@pytest.mark.parametrize("lang", LANGS)
def test_a_defenders_answers_are_accepted_the_quick_way_and_sealed_as_the_form_has_them(
    app, defender, operator, keyring, tmp_path, lang
):
    """The quick way is the way a submission takes, and what it seals is what the form would."""
    from flask import g
    from flask_babel import refresh

    from intake.offline.decrypt import decrypt_bundle

    from .test_submit import decrypt_requests

    answers = filled("organisation", "m") | {"amount_eur": "١٥ ٠٠٠", "members_at_risk": " 12 "}
    with app.test_request_context(f"/{lang}/organisation"):
        g.lang = lang
        refresh()
        quick, full = both_ways("organisation", as_posted(answers))
    assert quick is not None and quick == full and quick["amount_eur"] == "15000"
    code = defender.submit(lang, "organisation", "m", **answers)
    assert refcode.normalise(code)
    bundle = operator.export(tmp_path / "export.bin")
    assert decrypt_bundle(bundle, keyring, tmp_path / "read").written == 1
    [request] = decrypt_requests(tmp_path / "read")
    assert request["request"] == {"form": "organisation", "lang": lang, "fields": full}
