"""The status lookup: the same work and one answer length for every code, known or not."""

import base64
import datetime
import json
import logging
import re

from flask import g, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf

from intake.formats import envelope, refcode, return_bundle
from intake.server import statuses
from intake.web.fields import CODE_PROBLEMS, clean, code_problem, typed_code_problem
from intake.web.forms import TOKEN_FIELD, FollowupForm, StatusForm, token_is_valid
from intake.web.pages import bp, known_day
from intake.web.prerender import marker, prerendered
from intake.web.services import services
from intake.web.submit import seal_context, upload_limits

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


# When a code cannot be one or finds nothing, the same steps run on these stand-ins, so the time an
# answer takes does not tell whether a code exists.
STAND_IN_CODE = "0" * refcode.LENGTH
STAND_IN_LOOKUP = refcode.lookup_id(STAND_IN_CODE)
STAND_IN_MESSAGE = bytes(return_bundle.SEALED_MESSAGE_SIZE)
LOOKALIKES_JSON = json.dumps(refcode.LOOKALIKES, ensure_ascii=False)  # for lookup.js: encoded once
LOOKUP_ID_FIELD = "lookup_id"  # what lookup.js posts instead of the code: the lookup id, in hex
CODE_FIELD = "reference_code"  # StatusForm's field
_LOOKUP_ID = re.compile(r"[0-9a-f]{64}")


def find(lookup: bytes):
    """The status filed under a lookup id, or None: one read and one proof checked, whatever is found.

    A status is shown only if its proof holds: the secretariat's signature, or the server's own
    MAC (statuses.verified), so one written into the database by anyone else is never shown.
    """
    row = services().store.status(lookup)
    if not statuses.verified(row, services().verify_keys(), services().mac_key) and row is not None:
        log.error("a status record's proof does not hold: it is not shown")
        row = None
    return statuses.as_update(row) if row is not None else None


def lookup(typed: str):
    """Return (code, status, message) for a typed code, or (None, None, None), doing equal work."""
    try:
        code = refcode.normalise(typed)
    except refcode.InvalidCode:
        code = None
    probe = code or STAND_IN_CODE
    found = find(refcode.lookup_id(probe))
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
    """Look up a status by reference code: what was typed stays in the field; a code that cannot be a
    code is told so; every well-formed code that finds nothing gets the same answer."""
    if request.method == "GET":
        return form_page("")
    if LOOKUP_ID_FIELD in request.form:
        return looked_up_in_the_browser()
    typed = clean(request.form.get(CODE_FIELD)) or ""  # as StatusForm's field reads it
    problem = typed_code_problem(typed)
    if not token_is_valid():
        return padded(form_page(typed, problem, expired=True), typed), 403
    try:
        if not services().store.allow("lookups", services().config.lookups_per_minute):
            return padded(form_page(typed, problem, state="busy"), typed), 429
        code, found, message = lookup(typed)  # the same work for every code, one that cannot be one too
    except services().store.db.errors as e:
        return offline(e, typed, problem)
    if problem is not None:
        return padded(form_page(typed, problem), typed), 400
    if found is None:
        return padded(form_page(typed, state="not_found"), typed)
    return padded(found_page(found, code=code, message=message), typed)


def looked_up_in_the_browser():
    """A lookup lookup.js sent: the lookup id alone, derived from the code in the browser, which
    opens the message itself. The same work, the same rate and one length for every id, known,
    unknown or damaged; the server never has the code, so it shows none back."""
    text = request.form[LOOKUP_ID_FIELD]
    beside = set(request.form) - {LOOKUP_ID_FIELD, TOKEN_FIELD}  # a code in clear, say
    damaged = bool(beside) or not _LOOKUP_ID.fullmatch(text)
    # Nothing typed came: lookup.js puts back what is in the field.
    if not token_is_valid():
        return padded(form_page("", expired=True)), 403
    try:
        if not services().store.allow("lookups", services().config.lookups_per_minute):
            return padded(form_page("", state="busy")), 429
        found = find(STAND_IN_LOOKUP if damaged else bytes.fromhex(text))
    except services().store.db.errors as e:
        return offline(e)
    if damaged:
        return padded(form_page("", state="damaged")), 400
    if found is None:
        return padded(form_page("", state="not_found"))
    sealed = found.sealed_message
    return padded(found_page(found, sealed=base64url(sealed) if sealed else None))


def offline(error: Exception, typed: str = "", problem: str | None = None):
    """The drop box cannot be reached (a database restarting, a failing disk): the offline answer,
    with what was typed kept in the field to check again later."""
    log.warning("the drop box cannot be reached (%s): a lookup was answered offline", type(error).__name__)
    return padded(form_page(typed, problem, state="offline"), typed), 503


def form_page(typed: str, problem: str | None = None, expired: bool = False, state: str | None = None) -> str:
    """The lookup form (with why the typed text cannot be a code, an expired token, busy, offline,
    not found or damaged): the page the full render gives, rendered once and filled with this
    request's token and what was typed."""

    def render() -> str:
        form = StatusForm(formdata=None, reference_code=marker("typed"))
        form.reference_code.errors = [marker("problem")] if problem is not None else []
        form.csrf_token.errors = ["expired"] if expired else []
        return page(form, **({state: True} if state else {}))

    shown = prerendered(("form", state, problem is not None, expired), render)
    return shown.fill(token=generate_csrf(), typed=typed, problem=problem or "")


def found_page(found, code: str | None = None, message: str | None = None, sealed: str | None = None) -> str:
    """A found status (with the message opened here, or sealed for the page to open, and the follow-up
    form when more information is needed): the page the full render gives, rendered once per status
    and filled with this request's token, the day, the message and the code."""
    shows = "message" if message else "sealed" if sealed else None  # as the template's branches go
    followup = found.status == "more_info"
    key_id = envelope.key_id(bytes(services().sealing_key())) if followup else None

    def render() -> str:
        # The day as the page writes it is filled in too, so the template is given it as it is.
        stand_in = return_bundle.Update(bytes(32), found.status, marker("day"))
        return result_page(
            StatusForm(formdata=None),
            stand_in,
            shown_code=marker("code"),  # the follow-up's, empty when the browser looked it up
            message=marker("message") if shows == "message" else None,
            sealed=marker("sealed") if shows == "sealed" else None,
            format_date=str,
        )

    shown = prerendered(("found", found.status, shows, key_id), render)
    return shown.fill(
        token=generate_csrf(),
        day=known_day(found.day),
        code=refcode.display(code) if code else "",
        message=message or "",
        sealed=sealed or "",
    )


def base64url(data: bytes) -> str:
    """Bytes for a page's attribute: base64url without padding, as lookup-format.js reads them."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def page(form, **context) -> str:
    """The status page, with what lookup.js needs to look a code up without sending it."""
    messages = {reason: str(problem) for reason, problem in CODE_PROBLEMS.items()}  # with %(count)d
    messages |= {
        "summary": _("Please check these answers"),
        "titled": _("Please check these answers: %(page)s"),  # the page's title after an error (base.html)
        "failedTitle": _("Your browser could not check this code"),
        "failed": _(
            "Nothing was sent, or no answer came back. You can try again, or let the server check it: your reference code then travels to the server over this connection, as it does when JavaScript is off."
        ),
        "fallback": _("Let the server check the code"),
        "unopened": _(
            "Your browser could not open this message. To read it, switch JavaScript off and check your reference code again."
        ),
        "followupFailed": _(
            "Nothing was sent. Please try again. If it fails again, switch JavaScript off and check your reference code again: you can then send your answer from there."
        ),
    }
    script = {
        "lookalikes": LOOKALIKES_JSON,
        "messages": json.dumps(messages, ensure_ascii=False),
        "names": {
            "code": form.reference_code.name,
            "lookup": LOOKUP_ID_FIELD,
            "token": form.meta.csrf_field_name,
        },
    }
    return render_template("status.html", form=form, script=script, **context)


def result_page(
    form, found, shown_code: str = "", message: str | None = None, sealed: str | None = None, **extra
) -> str:
    """The answer to a lookup, fully rendered: the status and message (opened here, or `sealed` for
    the page to open), or the one neutral "not found". `shown_code` goes back in the follow-up."""
    if found is None:
        return page(form, not_found=True)
    name, meaning = STATUS_TEXT[found.status]
    context = {"status": found, "name": _(name), "meaning": _(meaning), "message": message, "sealed": sealed}
    if found.status == "more_info":
        # The code goes back inside the sealed follow-up: from here when the server was given it,
        # else lookup.js fills it in.
        more = FollowupForm(formdata=None, reference_code=shown_code)
        context |= {"followup": more, "seal": seal_context(more), "limits": upload_limits()}
    return page(form, **context, **extra)


# The message that takes the most room on a page: the longest allowed, every byte escaped to 5.
LONGEST_MESSAGE = '"' * return_bundle.MAX_MESSAGE
# What takes the most room in the field: the longest text read as a code, every character escaped.
LONGEST_TYPED = '"' * refcode.MAX_TYPED


def padded(answer: str, typed: str = "") -> str:
    """Pad a lookup's answer to one length per language, so that neither the access log nor anyone
    watching the connection learns the status, the length of the secretariat's message, or whether
    the browser or the server looked the code up."""
    sizes = services().result_sizes
    if g.lang not in sizes:  # a text longer than any code is no sample: its length is its own
        sizes[g.lang] = _largest_result(answer if len(typed) <= refcode.MAX_TYPED else "")
    missing = sizes[g.lang] - len(answer.encode("utf-8"))
    if missing < 0:
        # Text longer than any code, shown back in the field: its length is the request's, which
        # the connection showed already. Anything else cannot happen while _largest_result is
        # right; never hide that it was wrong.
        if len(typed) <= refcode.MAX_TYPED:
            log.error("a status page is longer than the largest one computed; its length shows")
        return answer
    filler = "<!--" + " " * max(0, missing - 7) + "-->"
    return answer.replace("</body>", filler + "</body>", 1) if missing >= 7 else answer + " " * missing


def _largest_result(sample: str) -> int:
    """The length every lookup answer in this language is padded to: the largest page a lookup can
    make (more information needed, the longest message opened here or sealed for the page, the
    longest date; or the longest text read as a code, shown back with the longest reason it cannot
    be one), rounded up to 1 KiB. Every page a lookup can give is rendered here, once, so the first
    lookup of each status takes no longer than the next."""
    longest_day = max(
        (datetime.date(2026, month, 28).isoformat() for month in range(1, 13)),
        key=lambda day: len(format_date(datetime.date.fromisoformat(day), format="long")),
    )
    sealed = base64url(STAND_IN_MESSAGE)
    pages = [sample]
    for status in STATUS_TEXT:
        found = return_bundle.Update(bytes(32), status, longest_day)
        pages.append(found_page(found, code=STAND_IN_CODE, message=LONGEST_MESSAGE))
        pages.append(found_page(found, sealed=sealed))
        pages += [found_page(found, code=STAND_IN_CODE), found_page(found)]
    problems = [
        None,
        *(code_problem(reason, 10 ** len(str(refcode.MAX_TYPED)) - 1) for reason in CODE_PROBLEMS),
    ]
    for problem in problems:
        for expired in (False, True):
            for state in (None, "busy", "offline", "not_found", "damaged"):
                pages.append(form_page(LONGEST_TYPED, problem, expired, state))
    largest = max(len(answer.encode("utf-8")) for answer in pages) + 256
    return -(-largest // 1024) * 1024
