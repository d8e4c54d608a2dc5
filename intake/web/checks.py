"""What the browser checks a form with before sealing it, one cacheable file per form and language:
each field's rules (fields.field_rule), the look-alike letters of reference codes, the server's
digits, and the countries' codes by their names in the page's language.

They were 14 KB of the individual form's page, which a defender without JavaScript downloads whole
and never uses. The page names the file and its integrity; seal.js fetches it, pinned like the
scripts. Its name changes with its content, so a browser may keep it.
"""

import base64
import functools
import hashlib
import json
import sys
import unicodedata

from flask import Response, abort, g, url_for
from flask_babel import force_locale

from intake.formats import languages, refcode
from intake.web.fields import country_codes
from intake.web.forms import FeedbackForm, FollowupForm
from intake.web.support_forms import IndividualForm, OrganisationForm

SEALED = {form.KIND: form for form in (IndividualForm, OrganisationForm, FeedbackForm, FollowupForm)}
CACHED = "public, max-age=31536000, immutable"  # its name changes with what it holds


@functools.cache
def digits() -> list[int]:
    """The first code point of every run of ten decimal digits that int(), and so WholeNumber, reads
    with this Python's Unicode data: seal.js reads numbers with the server's digits, not its own."""
    return [p for p in range(sys.maxunicode + 1) if unicodedata.decimal(chr(p), None) == 0]


@functools.cache
def _file(kind: str, lang: str) -> tuple[bytes, str, str]:
    """The file of a form's checks (made once per worker, in a request): bytes, name, integrity."""
    with force_locale(lang):
        rules = SEALED[kind](formdata=None, meta={"csrf": False}).rules()  # no session begun
    for rule in rules:
        if "choices" in rule:
            rule["choices"] = sorted(rule["choices"])  # the page's order is the page's business
    checks = {"rules": rules, "lookalikes": refcode.LOOKALIKES, "digits": digits()}
    if any(rule.get("country") for rule in rules):
        checks["countries"] = country_codes(lang)
    body = json.dumps(checks, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    digest = hashlib.sha384(body).digest()
    name = f"{kind}-{lang}-{digest[:8].hex()}.json"
    return body, name, "sha384-" + base64.b64encode(digest).decode("ascii")


def reference(kind: str) -> dict[str, str]:
    """Where a form's page finds its checks, in the page's language, and their integrity."""
    _, name, integrity = _file(kind, g.lang)
    return {"url": url_for("checks", name=name), "integrity": integrity}


def serve(name: str) -> Response:
    """The checks file by its current name; any other name is not found."""
    kind, _, rest = name.partition("-")
    lang = rest.partition("-")[0]
    if kind not in SEALED or lang not in languages.LANGUAGES or _file(kind, lang)[1] != name:
        abort(404)
    return Response(_file(kind, lang)[0], mimetype="application/json", headers={"Cache-Control": CACHED})
