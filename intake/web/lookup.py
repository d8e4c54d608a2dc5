"""The status lookup: the same work and one answer length for every code, known or not."""

import datetime
import logging

from flask import g, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from intake.formats import refcode, return_bundle
from intake.server import statuses
from intake.web.fields import CODE_PROBLEMS, code_problem
from intake.web.forms import FollowupForm, StatusForm
from intake.web.pages import bp
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


# When a code is mistyped or unknown, the same steps run on these stand-ins, so the time an
# answer takes does not tell whether a code exists.
STAND_IN_CODE = "0" * refcode.LENGTH
STAND_IN_CODE_DISPLAY = refcode.display(STAND_IN_CODE)
STAND_IN_MESSAGE = bytes(return_bundle.SEALED_MESSAGE_SIZE)


def lookup(typed: str):
    """Return (code, status, message) for a typed code, or (None, None, None), doing equal work.

    A status is shown only if its proof holds: the secretariat's signature, or the server's own
    MAC (statuses.verified), so one written into the database by anyone else is never shown.
    """
    try:
        code = refcode.normalise(typed)
    except refcode.InvalidCode:
        code = None
    probe = code or STAND_IN_CODE
    row = services().store.status(refcode.lookup_id(probe))
    if not statuses.verified(row, services().verify_keys(), services().mac_key) and row is not None:
        log.error("a status record's proof does not hold: it is not shown")
        row = None
    found = statuses.as_update(row) if row is not None else None
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
    form = StatusForm()
    if request.method == "GET":
        return render_template("status.html", form=form)
    typed = form.reference_code.data or ""
    valid = form.validate_on_submit()
    if form.csrf_token.errors:
        return padded(render_template("status.html", form=form), typed), 403
    if not services().store.allow("lookups", services().config.lookups_per_minute):
        return padded(render_template("status.html", form=form, busy=True), typed), 429
    code, found, message = lookup(typed)  # the same work for every code, one that cannot be one too
    if not valid:
        return padded(render_template("status.html", form=form), typed), 400
    return padded(result_page(form, code, found, message), typed)


def result_page(form, code: str | None, found, message: str | None) -> str:
    """The answer to a lookup: the status and message, or the one neutral "not found"."""
    if code is None or found is None:
        return render_template("status.html", form=form, not_found=True)
    name, meaning = STATUS_TEXT[found.status]
    context = {"status": found, "name": _(name), "meaning": _(meaning), "message": message}
    if found.status == "more_info":
        more = FollowupForm(formdata=None, reference_code=refcode.display(code))
        context |= {"followup": more, "seal": seal_context(more), "limits": upload_limits()}
    return render_template("status.html", form=form, **context)


# The message that takes the most room on a page: the longest allowed, every byte escaped to 5.
LONGEST_MESSAGE = '"' * return_bundle.MAX_MESSAGE
# What takes the most room in the field: the longest text read as a code, every character escaped.
LONGEST_TYPED = '"' * refcode.MAX_TYPED


def padded(page: str, typed: str = "") -> str:
    """Pad a lookup's answer to one length per language, so that neither the access log nor anyone
    watching the connection learns the status or the length of the secretariat's message."""
    sizes = services().result_sizes
    if g.lang not in sizes:
        sizes[g.lang] = _largest_result(page)
    missing = sizes[g.lang] - len(page.encode("utf-8"))
    if missing < 0:
        # Text longer than any code, shown back in the field: its length is the request's, which
        # the connection showed already. Anything else cannot happen while _largest_result is
        # right; never hide that it was wrong.
        if len(typed) <= refcode.MAX_TYPED:
            log.error("a status page is longer than the largest one computed; its length shows")
        return page
    filler = "<!--" + " " * max(0, missing - 7) + "-->"
    return page.replace("</body>", filler + "</body>", 1) if missing >= 7 else page + " " * missing


def _largest_result(sample: str) -> int:
    """The length every lookup answer in this language is padded to: the largest page a lookup can
    make (more information needed, the longest message, the longest date; or the longest text read
    as a code, shown back with the longest reason it cannot be one), rounded up to 1 KiB."""
    longest_day = max(
        (datetime.date(2026, month, 28).isoformat() for month in range(1, 13)),
        key=lambda day: len(format_date(datetime.date.fromisoformat(day), format="long")),
    )
    form = StatusForm(formdata=None)
    pages = [sample]
    for status in STATUS_TEXT:
        found = return_bundle.Update(bytes(32), status, longest_day)
        pages.append(result_page(form, STAND_IN_CODE_DISPLAY, found, LONGEST_MESSAGE))
    for reason in CODE_PROBLEMS:
        typed = StatusForm(formdata=None, reference_code=LONGEST_TYPED)
        typed.reference_code.errors = [code_problem(reason, 10 ** len(str(refcode.MAX_TYPED)) - 1)]
        typed.csrf_token.errors = ["expired"]
        pages += [render_template("status.html", form=typed, busy=True)]
        pages += [render_template("status.html", form=typed, not_found=True)]
    largest = max(len(page.encode("utf-8")) for page in pages) + 256
    return -(-largest // 1024) * 1024
