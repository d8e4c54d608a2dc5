"""The forms every page shares: the sealable base, feedback or complaint, status lookup."""

from flask import request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import validate_csrf
from flask_wtf.form import _Auto
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import ValidationError

from intake.web.fields import (
    CODE_INPUT,
    CONTACT_LANGUAGES,
    ReferenceCode,
    Required,
    TypedCode,
    choice,
    clean,
    field_rule,
    text,
)

TOKEN_FIELD = "csrf_token"  # noqa: S105 (Flask-WTF's name for every form's token, not a secret)


def token_is_valid() -> bool:
    """The request's form token, checked as Flask-WTF checks a form's, without building a form."""
    try:
        validate_csrf(request.form.get(TOKEN_FIELD))
    except ValidationError:
        return False
    return True


def payload(kind: str, lang: str, fields: dict) -> dict:
    """The body payload (docs/formats.md, section 5): the form, the page's language, the answers."""
    return {"form": kind, "lang": lang, "fields": fields}


class AnswersForm(FlaskForm):
    """A form whose answers come from the request's text parts, and nowhere else."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            """Not file parts (a crafted request can send any answer as one; files are the uploads'
            business) and not a JSON body, as Flask-WTF would allow: text parts only."""
            if formdata is _Auto:
                return request.form if form.is_submitted() else None
            return formdata


class SealableForm(AnswersForm):
    """A form whose answers become the "fields" of a sealed body payload."""

    KIND = ""
    SECTIONS: list = []

    def in_page_order(self) -> list:
        """The fields as the page shows them, section by section (the error summary follows it)."""
        return [self[name] for _, names in self.SECTIONS for name in names]

    def rules(self) -> list[dict]:
        """The checks each field gets, in payload order, for the browser to apply before sealing."""
        return [field_rule(field) for field in self.in_page_order()]

    def answers(self) -> dict:
        """The cleaned answers, as the body payload's "fields" holds them."""
        return {
            name: self[name].data or ([] if isinstance(self[name].data, list) else "")
            for _, names in self.SECTIONS
            for name in names
        }


class FeedbackForm(SealableForm):
    """Feedback about the secretariat's work, or a complaint about harm it caused."""

    KIND = "feedback"
    SECTIONS = [(None, ["kind", "reference_code", "message", "contact_details", "contact_language"])]

    kind = choice(
        _l("What do you want to send?"),
        [("feedback", _l("Feedback")), ("complaint", _l("A complaint"))],
        Required(),
        help=_l(
            "A complaint is about harm caused by our actions or our representatives. Feedback is anything "
            "else about our work."
        ),
    )
    reference_code = StringField(
        _l("Reference code of an earlier request"),
        [ReferenceCode()],
        filters=[clean],
        render_kw=CODE_INPUT,
        description=_l(
            "Only if this is about a request you sent. Leave it empty if you prefer not to link them."
        ),
    )
    message = text(
        _l("Your message"),
        5000,
        Required(),
        area=True,
        help=_l(
            "Tell us what happened or what you think. For a complaint, say when it happened and who was "
            "involved, if you can."
        ),
    )
    contact_details = text(
        _l("How can we reply to you?"),
        200,
        help=_l(
            "Leave it empty to get our reply only on this website, with the reference code you will "
            "receive. This site does not protect ordinary email or phone calls."
        ),
    )
    contact_language = choice(
        _l("In which language should we reply?"), CONTACT_LANGUAGES, Required(), kind=SelectField
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.contact_language.data = self.contact_language.data or str(get_locale())


class FollowupForm(SealableForm):
    """More information for a request, carrying its reference code inside the sealed body."""

    KIND = "followup"
    ATTACHMENTS = True
    SECTIONS = [(None, ["reference_code", "message", "contact_details"])]

    reference_code = HiddenField(validators=[Required(), ReferenceCode()], filters=[clean])
    message = text(
        _l("The information the secretariat asked for"),
        5000,
        Required(),
        area=True,
        help=_l(
            "Answer the secretariat's message above. Your answer is encrypted and added to your request."
        ),
    )
    contact_details = text(
        _l("New contact details"),
        200,
        help=_l("Only if the way to reach you safely has changed."),
    )


class StatusForm(AnswersForm):
    """The reference code, sent by POST so that it never appears in a URL."""

    reference_code = StringField(
        _l("Your reference code"),
        [TypedCode()],
        filters=[clean],
        # Not kept in the browser's form history, nor sent to a spelling service.
        render_kw=CODE_INPUT,
        # The example's hyphens do not break (U+2011): a code on two lines invites a copying mistake.
        description=_l(
            "It looks like XXXXX\u2011XXXXX\u2011XXXXX\u2011XXXXX. Capital or small letters, with or without hyphens."
        ),
    )
