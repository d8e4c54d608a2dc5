"""The defender's pages. Thin: forms validate, submission.py seals and stores, templates render."""

import datetime
import logging

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from intake.formats import refcode, return_bundle
from intake.server.statuses import Status
from intake.web import i18n
from intake.web.app import services
from intake.web.forms import FeedbackForm, FollowupForm, StatusForm
from intake.web.submit import seal_context, sealed_form_page, upload_limits
from intake.web.support_forms import IndividualForm, OrganisationForm

bp = Blueprint("site", __name__, url_prefix="/<lang>")
log = logging.getLogger("intake")

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
    "delivered": (
        _l("Delivered to the secretariat"),
        _l(
            "The secretariat has your request and will review it. The encrypted copy has been deleted from this server."
        ),
    ),
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
    408: (
        _l("What you sent arrived too slowly"),
        _l(
            "The connection was too slow or was interrupted, so nothing was stored. Go back in your browser: your answers may still be there. Please send again."
        ),
    ),
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
        "demo_keys": services().key.demo,
    }


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


@bp.route("/individual", methods=["GET", "POST"])
def individual():
    """Ask for support for a person at risk."""
    return sealed_form_page(IndividualForm, "request_form.html")


@bp.route("/organisation", methods=["GET", "POST"])
def organisation():
    """Ask for support for an organisation at risk."""
    return sealed_form_page(OrganisationForm, "request_form.html")


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
STAND_IN_CODE_DISPLAY = refcode.display(STAND_IN_CODE)
STAND_IN_MESSAGE = bytes(return_bundle.SEALED_MESSAGE_SIZE)


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
        message = return_bundle.open_message(sealed, refcode.reply_key(probe))
    except return_bundle.ReturnError:
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
        return padded(render_template("status.html", form=form, busy=True)), 429
    code, found, message = lookup(form.reference_code.data)
    form.reference_code.data = ""  # the code is not shown back under the answer
    return padded(result_page(form, code, found, message))


def result_page(form, code: str | None, found, message: str | None) -> str:
    """The answer to a lookup: the status and message, or the one neutral "not found"."""
    if found is None:
        return render_template("status.html", form=form, not_found=True)
    name, meaning = STATUS_TEXT[found.status]
    context = {"status": found, "name": _(name), "meaning": _(meaning), "message": message}
    if found.status == "more_info":
        more = FollowupForm(formdata=None, reference_code=refcode.display(code))
        context |= {"followup": more, "seal": seal_context(more), "limits": upload_limits()}
    return render_template("status.html", form=form, **context)


# The message that takes the most room on a page: the longest allowed, every byte escaped to 5.
LONGEST_MESSAGE = '"' * return_bundle.MAX_MESSAGE


def padded(page: str) -> str:
    """Pad a lookup's answer to one length per language, so that neither the access log nor anyone
    watching the connection learns the status or the length of the secretariat's message."""
    sizes = services().result_sizes
    if g.lang not in sizes:
        sizes[g.lang] = _largest_result(page)
    missing = sizes[g.lang] - len(page.encode("utf-8"))
    if missing < 0:  # cannot happen while _largest_result is right; never hide that it was wrong
        log.error("a status page is longer than the largest one computed; its length shows")
        return page
    filler = "<!--" + " " * max(0, missing - 7) + "-->"
    return page.replace("</body>", filler + "</body>", 1) if missing >= 7 else page + " " * missing


def _largest_result(sample: str) -> int:
    """The length every lookup answer in this language is padded to: the largest page a status can
    make (more information needed, the longest message, the longest date), rounded up to 1 KiB."""
    longest_day = max(
        (datetime.date(2026, month, 28).isoformat() for month in range(1, 13)),
        key=lambda day: len(format_date(datetime.date.fromisoformat(day), format="long")),
    )
    form = StatusForm(formdata=None)
    pages = [sample]
    for status in STATUS_TEXT:
        found = Status(status, longest_day, b"")
        pages.append(result_page(form, STAND_IN_CODE_DISPLAY, found, LONGEST_MESSAGE))
    largest = max(len(page.encode("utf-8")) for page in pages) + 256
    return -(-largest // 1024) * 1024
