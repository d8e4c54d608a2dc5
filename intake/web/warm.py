"""A served worker's pages, rendered before it takes its first request."""

from flask import Flask, g

from intake.formats import languages, refcode
from intake.web import lookup, submit
from intake.web.forms import FeedbackForm, FollowupForm
from intake.web.support_forms import IndividualForm, OrganisationForm

FORMS = (IndividualForm, OrganisationForm, FeedbackForm, FollowupForm)


def warm_up(app: Flask) -> None:
    """Render, in every language, the pages filled in per request (every lookup answer, and the
    length they are padded to; every receipt) and each form's rules: otherwise the first lookup in
    a language after a worker starts or is recycled waited for about fifty pages."""
    for lang in languages.LANGUAGES:
        with app.test_request_context(f"/{lang}/status"):
            g.lang = lang
            lookup.padded("")
            for form in FORMS:
                submit.rules_of(form)
                submit.receipt(refcode.make(), form.KIND)
