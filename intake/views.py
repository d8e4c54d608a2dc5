"""The defender's pages. Thin: forms validate, submission.py seals and stores, templates render."""

import base64
import datetime
import json

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import crypto, i18n, item, refcode, returns, submission, uploads
from .forms import EnvelopeForm, FeedbackForm, FollowupForm, StatusForm
from .support_forms import IndividualForm, OrganisationForm

bp = Blueprint("site", __name__, url_prefix="/<lang>")

# Each status as the defender reads it: a name, and what it means for them.
STATUS_TEXT = {
    "received": (
        _l("Received"),
        _l("Your request is stored, encrypted, and waits to be read by the secretariat."),
    ),
    "in_review": (_l("In review"), _l("The secretariat is reviewing your request.")),
    "more_info": (_l("More information needed"), _l("The secretariat needs more information from you.")),
    "referred": (
        _l("Referred to other sources of support"),
        _l("The secretariat has passed your request to other sources of support that fit it better."),
    ),
    "accepted": (
        _l("Accepted"),
        _l("The secretariat will guide you to support. It will contact you as you asked."),
    ),
    "declined": (
        _l("Declined"),
        _l("The secretariat cannot support this request. Other sources of support may be able to help."),
    ),
    "closed": (_l("Closed"), _l("The secretariat has closed this request.")),
}


ERROR_TEXT = {
    400: (
        _l("What was sent could not be processed"),
        _l("Something in what was sent was not valid. Please go back, reload the page and try again."),
    ),
    403: (
        _l("The form had expired"),
        _l(
            "For your safety, forms expire after some hours, or when the browser's data for this site is deleted (for example with a new Tor identity). Go back in your browser: your answers may still be there. Copy them somewhere safe, then reload the page and send again."
        ),
    ),
    404: (
        _l("Page not found"),
        _l("There is no page at this address. Please start again from the start page."),
    ),
    405: (_l("This page cannot be used this way"), _l("Please use the links and buttons of the site.")),
    413: (
        _l("What you sent is too large"),
        _l(
            "Nothing was stored. Go back in your browser: your answers may still be there. Please shorten them and send again."
        ),
    ),
    429: (
        _l("The site is very busy right now"),
        _l(
            "The site is receiving too many requests. Nothing was stored. Please wait a few minutes and try again."
        ),
    ),
    500: (
        _l("Something went wrong"),
        _l("An error happened on the server. Nothing you sent was stored. Please try again later."),
    ),
    503: (
        _l("The site is offline"),
        _l(
            "The site cannot accept requests at the moment. Nothing was stored. Please try again later. If you are in immediate danger, do not wait for this site to come back: contact people you trust and your emergency contacts."
        ),
    ),
}


@bp.app_context_processor
def page_context():
    """What every template may use: the language, its direction, switch links, public settings."""
    cfg = services().config
    lang = g.get("lang", i18n.DEFAULT)

    def switch_url(code):
        # The same page in another language (GET only: a POST's answers are not carried over).
        endpoint = request.endpoint if request.endpoint and request.endpoint.startswith("site.") else None
        return url_for(endpoint or "site.landing", lang=code)

    def format_day(day):
        return format_date(datetime.date.fromisoformat(day), format="long")

    return {
        "direction": i18n.direction(lang),
        "languages": [(code, name) for code, (name, _dir) in i18n.LANGUAGES.items()],
        "switch_url": switch_url,
        "emergency_contact": cfg.emergency_contact,
        "onion_hostname": cfg.onion_hostname,
        "error_title": lambda code: ERROR_TEXT[code][0],
        "error_text": lambda code: ERROR_TEXT[code][1],
        "format_date": format_day,
        "integrity": services().integrity.__getitem__,
    }


def services():
    """The app's stores and key (web.Services)."""
    return current_app.extensions["intake"]


@bp.url_value_preprocessor
def take_language(endpoint, values):
    """Every page's language comes from its URL prefix."""
    g.lang = values.pop("lang")
    if g.lang not in i18n.LANGUAGES:
        g.lang = i18n.DEFAULT
        abort(404)


@bp.url_defaults
def keep_language(endpoint, values):
    """Links stay in the page's language unless they ask for another."""
    values.setdefault("lang", g.lang)


def choose_language():
    """The root page: the five languages, each in its own words."""
    g.lang = i18n.DEFAULT
    return render_template("choose_language.html")


@bp.get("/")
def landing():
    """Who the secretariat is, what is protected, and the ways in."""
    return render_template("landing.html")


@bp.get("/other-support")
def other_support():
    """Other sources of support, from the source documents."""
    return render_template("other_support.html")


def seal_context(form) -> dict:
    """What seal.js needs on the form: key, kind, rules, look-alikes, messages in this language."""
    key = services().public_key
    limits = upload_limits()
    messages = {
        "tooMany": _("Please attach at most %(count)d files. Nothing was stored.", count=limits["count"]),
        "tooLarge": _(
            "Your files are too large together: at most %(mb)d MB in total. Nothing was stored.",
            mb=limits["mb"],
        ),
        "sealing": _("Encrypting… This can take a minute for large files."),
        "required": _("Please answer this question."),
        "choose": _("Please choose at least one."),
        "choice": _("Please choose one of the options."),
        "tooLong": _("Please shorten this to %(max)d characters or fewer."),
        "number": _("Please write a whole number, for example 3000."),
        "refcode": _("This reference code is not valid. Please check it, or leave the field empty."),
        "summary": _("Please check these answers"),
        "failedTitle": _("Your browser could not encrypt this request"),
        "failed": _(
            "Nothing was sent. You can try again, or let the server encrypt it: your answers then travel to the server over this connection and are encrypted there the moment they arrive."
        ),
        "fallback": _("Send it to be encrypted on the server"),
    }
    return {
        "max_files": limits["count"],
        "max_bytes": services().config.max_attachment_bytes,
        "public_key": bytes(key).hex(),
        "key_id": crypto.key_id(bytes(key)).hex(),
        "kind": form.KIND,
        "rules": json.dumps(form.rules(), ensure_ascii=False),
        "lookalikes": json.dumps(refcode.LOOKALIKES, ensure_ascii=False),
        "messages": json.dumps(messages, ensure_ascii=False),
    }


def render_form(template, form, status=200, **context):
    """A sealed form's page, with what the browser needs to seal it."""
    return render_template(
        template, form=form, seal=seal_context(form), limits=upload_limits(), **context
    ), status


def upload_limits() -> dict:
    """How many files, and how many MB in all, a request may carry (stated on the form)."""
    cfg = services().config
    return {"count": cfg.max_attachments, "mb": cfg.max_attachment_bytes // 1_000_000}


BUSY = _l(
    "The site is very busy right now. Nothing was stored. Your answers are still here: please try again in a few minutes."
)
FULL = _l(
    "Nothing was sent. The server cannot store requests at the moment. Your answers are still here: please try again later."
)


def stored_size(staged) -> int:
    """What a request will take in the drop box: its item and its sealed streams."""
    return item.ITEM_SIZE + sum(s.path.stat().st_size for s in staged)


def admission(size: int) -> tuple[int, str] | None:
    """Refuse a submission during a flood (429) or when storage is short (503); None to go ahead."""
    if not services().submissions.allow():
        return 429, str(BUSY)
    if not services().storage.room_for(size):
        return 503, str(FULL)
    return None


def upload_refusal(problem: str) -> tuple[int, str]:
    """The status and translated sentence for files that could not be taken."""
    limits = upload_limits()
    if problem == "too_many":
        return 413, _("Please attach at most %(count)d files. Nothing was stored.", count=limits["count"])
    if problem == "too_large":
        return 413, _(
            "Your files are too large together: at most %(mb)d MB in total. Nothing was stored.",
            mb=limits["mb"],
        )
    if problem == "malformed":
        return 400, _(
            "The encrypted request was damaged on the way. Nothing was stored. Go back in your browser and send again."
        )
    return 503, _(
        "Nothing was sent. The server cannot store requests at the moment. Your answers are still here: please try again later."
    )


def accept_envelope(form_class, template: str):
    """A request the browser sealed: accept it only alone, well formed, for the current key."""
    blank = form_class(formdata=None)
    form = EnvelopeForm()
    if set(request.form) - {"csrf_token", "envelope"} or set(request.files) - {uploads.SEALED_FIELD}:
        # Plaintext beside an envelope means the page's script was bypassed or broken.
        return render_form(
            template,
            blank,
            400,
            envelope_error=_(
                "The request carried both encrypted and unencrypted answers, so it was refused. Nothing was stored."
            ),
        )
    if not form.validate_on_submit():
        return render_form(
            template,
            blank,
            403,
            envelope_error=_(
                "For your safety the form had expired. Nothing was stored. Go back in your browser: your answers may still be there. Copy them, reload the page and send again."
            ),
        )
    key = services().public_key
    try:
        data = form.envelope.data or ""
        envelope = base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_", validate=True)
        stale = crypto.envelope_key_id(envelope, crypto.KIND_BODY) != crypto.key_id(bytes(key))
    except (ValueError, crypto.FormatError):
        envelope, stale = None, False
    if stale:
        return render_form(
            template,
            blank,
            400,
            envelope_error=_(
                "The site's key changed after you opened this page. Nothing was stored. Go back in your browser, copy your answers, reload the page and send again."
            ),
        )
    if envelope is None:
        return render_form(
            template,
            blank,
            400,
            envelope_error=_(
                "The encrypted request was damaged on the way. Nothing was stored. Go back in your browser and send again."
            ),
        )
    try:
        staged = request.uploads.finish(uploads.SEALED_FIELD)
        if request.uploads.problem:
            status, message = upload_refusal(request.uploads.problem)
            return render_form(template, blank, status, envelope_error=message)
        size = stored_size(staged)
        if refusal := admission(size):
            return render_form(template, blank, refusal[0], envelope_error=refusal[1])
        code = submission.accept(
            envelope, form_class.KIND, "browser", key, services().dropbox, services().statuses, staged
        )
        services().storage.stored(size)
    except OSError:
        return render_form(template, blank, 503, store_failed=True)
    return render_template("receipt.html", code=refcode.display(code), form_kind=form_class.KIND)


def sealed_form_page(form_class, template: str):
    """Show a form; on a valid POST seal it, store it, and only then show the code."""
    if request.method == "POST" and "envelope" in request.form:
        return accept_envelope(form_class, template)
    form = form_class()
    if request.method == "GET":
        return render_form(template, form)
    files = request.uploads  # parsing the form has sealed every file part into staging already
    if files.problem:
        status, message = upload_refusal(files.problem)
        return render_form(template, form, status, upload_error=message)
    if not form.validate_on_submit():
        # Everything typed comes back, with the errors; an expired token is a 403 but loses nothing.
        return render_form(
            template, form, 403 if form.csrf_token.errors else 400, files_dropped=bool(files.parts)
        )
    try:
        staged = files.finish(uploads.FIELD) if getattr(form, "ATTACHMENTS", False) else []
        size = stored_size(staged)
        if refusal := admission(size):
            return render_form(template, form, refusal[0], busy=refusal[1])
        code = submission.accept_plaintext(
            form.payload(g.lang), services().public_key, services().dropbox, services().statuses, staged
        )
        services().storage.stored(size)
    except OSError:
        # The disk is full or failing: nothing was accepted, so say so and keep what they typed.
        return render_form(template, form, 503, store_failed=True)
    return render_template("receipt.html", code=refcode.display(code), form_kind=form.KIND)


@bp.route("/individual", methods=["GET", "POST"])
def individual():
    """Ask for support for a person at risk."""
    return sealed_form_page(IndividualForm, "individual.html")


@bp.route("/organisation", methods=["GET", "POST"])
def organisation():
    """Ask for support for an organisation at risk."""
    return sealed_form_page(OrganisationForm, "organisation.html")


@bp.route("/feedback", methods=["GET", "POST"])
def feedback():
    """Send feedback or a complaint."""
    return sealed_form_page(FeedbackForm, "feedback.html")


@bp.route("/followup", methods=["GET", "POST"])
def followup():
    """More information for a request: reached from the status page, which carries the code."""
    if request.method == "GET":
        return redirect(url_for("site.status"))
    return sealed_form_page(FollowupForm, "followup.html")


# When a code is mistyped or unknown, the same steps run on these stand-ins, so the time an
# answer takes does not tell whether a code exists.
STAND_IN_CODE = "0" * refcode.LENGTH
STAND_IN_MESSAGE = bytes(returns.SEALED_MESSAGE_SIZE)


def lookup(typed: str):
    """Return (code, status, message) for a typed code, or (None, None, None), doing equal work."""
    try:
        code = refcode.normalise(typed)
    except refcode.InvalidCode:
        code = None
    probe = code or STAND_IN_CODE
    found = services().statuses.get(refcode.lookup_id(probe))
    sealed = found.sealed_message if found and found.sealed_message else STAND_IN_MESSAGE
    try:
        message = returns.open_message(sealed, refcode.reply_key(probe))
    except returns.ReturnError:
        message = None
    if code is None or found is None:
        return None, None, None
    return code, found, message


@bp.route("/status", methods=["GET", "POST"])
def status():
    """Look up a status by reference code; unknown and mistyped codes get the same answer."""
    form = StatusForm()
    if request.method == "GET":
        return render_template("status.html", form=form)
    if not form.validate_on_submit():
        return render_template("status.html", form=form), 403 if form.csrf_token.errors else 400
    if not services().lookups.allow():
        form.reference_code.data = ""
        return render_template("status.html", form=form, busy=True), 429
    code, found, message = lookup(form.reference_code.data)
    form.reference_code.data = ""  # the code is not shown back under the answer
    if found is None:
        return render_template("status.html", form=form, not_found=True)
    name, meaning = STATUS_TEXT[found.status]
    context = {"status": found, "name": _(name), "meaning": _(meaning), "message": message}
    if found.status == "more_info":
        more = FollowupForm(formdata=None, reference_code=refcode.display(code))
        context |= {"followup": more, "seal": seal_context(more), "limits": upload_limits()}
    return render_template("status.html", form=form, **context)
