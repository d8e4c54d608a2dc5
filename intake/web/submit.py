"""Accepting a sealed form: what the page needs to seal it, the limits, and storing it or saying why not."""

import base64
import json
from typing import TYPE_CHECKING, cast

from flask import g, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from intake.formats import envelope, languages, refcode
from intake.server import accept
from intake.server.store import Full
from intake.web import checks, uploads
from intake.web.answers import Rules
from intake.web.fields import CODE_PROBLEMS, ReferenceCode
from intake.web.forms import TOKEN_FIELD, payload, token_is_valid
from intake.web.prerender import marker, prerendered
from intake.web.services import services

if TYPE_CHECKING:  # named for the cast only: app.py assembles the views, not the other way round
    from intake.web.app import SealingRequest

ENVELOPE_FIELD = "envelope"  # the body Envelope a browser sealed, base64url


def part_names() -> dict:
    """The names of a sealed form's parts, for the page and its script: defined once, here."""
    return {
        "token": TOKEN_FIELD,
        "envelope": ENVELOPE_FIELD,
        "files": uploads.FIELD,
        "sealed_files": uploads.SEALED_FIELD,
    }


def seal_context(form) -> dict:
    """What seal.js needs on the form: key, kind, where its checks are, part names, messages in this
    language."""
    key = services().sealing_key()
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
        "summary": _("Please check these answers"),
        "failedTitle": _("Your browser could not encrypt this request"),
        "failed": _(
            "Nothing was sent. You can try again, or let the server encrypt it: your answers then travel to the server over this connection and are encrypted there the moment they arrive."
        ),
        "fallback": _("Send it to be encrypted on the server"),
    }
    if any(isinstance(check, ReferenceCode) for field in form for check in field.validators):
        # Why a typed reference code cannot be one, as the status page says it (with %(count)d).
        messages |= {reason: str(problem) for reason, problem in CODE_PROBLEMS.items()}
    return {
        "max_files": limits["count"],
        "max_bytes": services().config.max_attachment_bytes,
        "public_key": bytes(key).hex(),
        "key_id": envelope.key_id(bytes(key)).hex(),
        "kind": form.KIND,
        "checks": checks.reference(form.KIND),
        "messages": json.dumps(messages, ensure_ascii=False),
        "names": part_names(),
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


def request_uploads() -> uploads.Uploads:
    """This request's file parts, sealed as they streamed in (the app's requests are SealingRequests)."""
    return cast("SealingRequest", request).uploads


def not_stored() -> tuple[type[Exception], ...]:
    """Why a request could not be stored: the quota, or a full or failing disk or database."""
    return (Full, *services().store.db.errors)


def busy() -> tuple[int, str] | None:
    """Refuse a submission during a flood (429), counted site-wide; None to go ahead."""
    if not services().store.allow("submissions", services().config.submissions_per_minute):
        return 429, str(BUSY)
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
        return 400, str(DAMAGED)
    return 503, str(FULL)


DAMAGED = _l(
    "The encrypted request was damaged on the way. Nothing was stored. Go back in your browser and send again."
)


def refuse(template: str, form, status: int, message: str, where: str = "refusal"):
    """The form again, the answers kept, with why nothing was stored (`where` places the message:
    beside the sealed request, the files, or the whole form)."""
    return render_form(template, form, status, **{where: message})


def receipt(code: str, kind: str) -> str:
    """The reference code, shown only once the request is durably stored: the receipt page, rendered
    once per language and form, with this code filled in."""
    shown = prerendered(("receipt", kind), lambda: full_receipt(marker("code"), kind))
    return shown.fill(code=refcode.display(code))


def full_receipt(shown: str, kind: str) -> str:
    """One page holding the receipt in every language, the page's own last, so that switching
    language keeps the code (`shown`, as the defender reads it)."""
    receipts = []
    for lang in sorted(languages.LANGUAGES, key=lambda lang: lang == g.lang):
        with force_locale(lang):
            text = render_template("_receipt_text.html", code=shown, form_kind=kind, lang=lang)
        # render_template returns HTML that Jinja escaped already.
        receipts.append((lang, languages.direction(lang), Markup(text)))  # noqa: S704
    links = {lang: f"#receipt-{lang}" for lang in languages.LANGUAGES}
    return render_template("receipt.html", receipts=receipts, language_links=links)


def accept_envelope(form_class, template: str):
    """A request the browser sealed: accept it only alone, well formed, for the current key."""
    names = part_names()
    texts, files = {names["token"], names["envelope"]}, {names["sealed_files"]}

    def refused(status: int, message: str, where: str = "envelope_error"):
        return refuse(template, form_class(formdata=None), status, message, where=where)

    if set(request.form) - texts or set(request.files) - files:
        # Plaintext beside an envelope means the page's script was bypassed or broken.
        return refused(
            400,
            _(
                "The request carried both encrypted and unencrypted answers, so it was refused. Nothing was stored."
            ),
        )
    if not token_is_valid():
        return refused(
            403,
            _(
                "For your safety, the form has expired. Nothing was stored. Go back in your browser: your answers may still be there. Copy them, reload the page and send again."
            ),
        )
    key = services().sealing_key()
    try:
        data = request.form[ENVELOPE_FIELD]
        sealed = base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_", validate=True)
        stale = envelope.envelope_key_id(sealed, envelope.KIND_BODY) != envelope.key_id(bytes(key))
    except (ValueError, envelope.FormatError):
        return refused(400, str(DAMAGED))
    if stale:
        return refused(
            400,
            _(
                "The site's key changed after you opened this page. Nothing was stored. Go back in your browser, copy your answers, reload the page and send again."
            ),
        )
    try:
        parts = request_uploads()
        staged = parts.finish(uploads.SEALED_FIELD)
        if parts.problem:
            return refused(*upload_refusal(parts.problem))
        if refusal := busy():
            return refused(*refusal)
        code = services().acceptor.accept(
            accept.Arrival(sealed, form_class.KIND, "browser", tuple(staged)), key
        )
    except not_stored():
        return refused(503, str(FULL), where="refusal")
    return receipt(code, form_class.KIND)


def sealed_form_page(form_class, template: str):
    """Show a form; on a valid POST seal it, store it, and only then show the code."""
    if request.method == "POST" and ENVELOPE_FIELD in request.form:
        return accept_envelope(form_class, template)
    if request.method == "GET":
        return render_form(template, form_class())
    files = request_uploads()  # parsing the form has sealed every file part into staging already
    if files.problem:
        return refuse(template, answered(form_class), *upload_refusal(files.problem), where="upload_error")
    fields = quick_answers(form_class)
    if fields is None:  # something to say: the form itself checks the answers, and says what
        form = answered(form_class)
        if form.errors:
            # Everything typed comes back, with the errors; an expired token is a 403 but loses nothing.
            return render_form(
                template, form, 403 if form.csrf_token.errors else 400, files_dropped=files.chosen()
            )
        fields = form.answers()
    try:
        staged = files.finish(uploads.FIELD) if getattr(form_class, "ATTACHMENTS", False) else []
        if refusal := busy():
            return refuse(template, answered(form_class), *refusal)
        code = services().acceptor.seal_and_accept(
            payload(form_class.KIND, g.lang, fields), services().sealing_key(), tuple(staged)
        )
    except not_stored():
        # The quota is reached, or the disk is full or failing: nothing was accepted, so say so and
        # keep what they typed.
        return refuse(template, answered(form_class), 503, str(FULL))
    return receipt(code, form_class.KIND)


def quick_answers(form_class) -> dict | None:
    """The answers as stored when they need nothing said, checked with the form's rules without
    building the form (answers.py); None when the form must be built to check them."""
    if not token_is_valid():
        return None
    return rules_of(form_class).accepted(request.form)


def rules_of(form_class) -> Rules:
    """The form's field rules in the page's language, made once per worker."""
    key = (form_class.KIND, g.lang)
    rules = services().rules.get(key)
    if rules is None:
        rules = services().rules[key] = Rules(form_class(formdata=None).rules())
    return rules


def answered(form_class):
    """The form built from the request's answers and checked: what the page shows again."""
    form = form_class()
    form.validate()
    return form
