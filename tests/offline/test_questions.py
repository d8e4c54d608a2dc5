"""questions.json: the forms described for the offline tool, current, and every word of it translated."""

import gettext

from intake.formats.languages import LANGUAGES
from intake.offline import questions

FORMS = ("individual", "organisation", "feedback", "followup")


def test_the_shipped_description_is_the_forms_as_they_are_now():
    """Fails when a form changes and `intake translations update` was not run."""
    import intake

    fresh = intake.forms_description()
    assert questions.FILE.read_bytes() == fresh, "questions.json is stale: run `intake translations update`"


def test_it_describes_every_field_of_every_form_the_site_sends():
    from intake.web.forms import FeedbackForm, FollowupForm
    from intake.web.support_forms import IndividualForm, OrganisationForm

    found = questions.load()
    for form in (IndividualForm, OrganisationForm, FeedbackForm, FollowupForm):
        names = [q.name for _, section in found.sections(form.KIND) for q in section]
        assert names == [name for _, fields in form.SECTIONS for name in fields], form.KIND
    kinds = {q.name: q.kind for _, section in found.sections("individual") for q in section}
    countries = {
        q.name
        for kind in FORMS
        for _, section in found.sections(kind)
        for q in section
        if q.kind == "country"
    }
    assert countries == {"country", "current_country"}  # a select with no choices of its own
    assert kinds["measures"] == "choices" and kinds["urgency"] == "choice" and kinds["amount_eur"] == "number"
    assert found.country("CO", "ru") == "Колумбия" and found.country("CO", "ar") == "كولومبيا"


def msgids() -> set[str]:
    found, ids = questions.load(), set()
    for kind in FORMS:
        form = found.forms[kind]
        ids |= {form["title"]} if form["title"] else set()
        for title, section in found.sections(kind):
            ids |= {title} if title else set()
            for question in section:
                ids |= {question.label} if question.label else set()
                ids |= {label for label, translate in question.choices.values() if translate}
    for words in found.statuses.values():
        ids |= set(words.values())
    return ids


def test_every_word_is_in_every_compiled_catalog_read_by_the_standard_library():
    ids = msgids()
    assert len(ids) > 90
    for lang in LANGUAGES:
        if lang == "en":
            continue
        catalog = questions.translation(lang)
        assert isinstance(catalog, gettext.GNUTranslations), f"{lang}: no compiled catalog"
        missing = sorted(i for i in ids if i not in catalog._catalog)
        assert missing == [], (lang, missing[:3])
