"""Every HTTP error as a translated page, in the language of the URL (one table, one renderer)."""

import logging
import sys
import traceback

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from intake.formats import languages

log = logging.getLogger("intake")

# Each error page's title and text; a code not listed here is shown as a 400.
ERROR_TEXT = {
    400: (
        _l("What was sent could not be processed"),
        _l("Something in what was sent was not valid. Please go back, reload the page and try again."),
    ),
    403: (
        _l("The form has expired"),
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
        _l("Nothing was stored. Please wait a few minutes and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("An error happened on the server. Nothing you sent was stored. Please try again later."),
    ),
    503: (
        _l("The site is offline"),
        _l(
            "The site cannot receive requests at the moment. Nothing was stored. Please try again later. If you are in immediate danger, do not wait for this site to come back: contact people you trust and your emergency contacts."
        ),
    ),
}


# What the proxy in front of several nodes says when a node took a request and no answer came
# (it died, or took too long): unlike offline, the request may have been stored (proxy_page()).
NO_ANSWER = (
    _l("No answer came from the site"),
    _l(
        "Your request may or may not have been received. If no reference code was shown to you, go back in your browser: your answers may still be there. Send them again in a few minutes. If you are in immediate danger, do not wait for this site to come back: contact people you trust and your emergency contacts."
    ),
)


def error_page(code: int):
    """Render the translated page for an HTTP error, in the language of the URL when it has one."""
    lang = request.path.split("/")[1] if request.path.count("/") > 1 else ""
    g.lang = lang if lang in languages.LANGUAGES else g.get("lang", languages.DEFAULT)
    return render_template("error.html", code=code), code


def log_exception(exc_info) -> None:
    """Log where an error happened, never its message: messages can quote what was typed."""
    kind, _, tb = exc_info
    frames = "; ".join(f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb))
    log.error("unhandled %s at %s", kind.__name__, frames)


def init_app(app: Flask) -> None:
    """Answer every error with its translated page: no default Werkzeug page, never a traceback."""

    @app.errorhandler(HTTPException)
    def http_error(error):
        return error_page(error.code if error.code in ERROR_TEXT else 400)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_page(403)

    @app.errorhandler(Exception)
    def unexpected(error):
        log_exception(sys.exc_info())
        return error_page(500)


def proxy_page(status: int) -> bytes:
    """A page as HAProxy's errorfile takes it (an HTTP response, deploy/haproxy.cfg): offline (503)
    when no node can take a request, or no answer came (502) when the node that took it gave none.
    In every language at once, since the proxy cannot tell which one was asked for, with no
    stylesheet or script, which no node is there to serve."""
    from flask_babel import Babel, force_locale

    from intake.server import settings
    from intake.web.security import HEADERS

    app = Flask(__name__, template_folder=str(settings.shipped("templates")))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(settings.shipped("translations"))
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True  # as the site's pages
    Babel(app)
    sections = []
    with app.test_request_context("/"):
        for lang in languages.LANGUAGES:
            with force_locale(lang):
                title, text = (str(words) for words in (ERROR_TEXT[503] if status == 503 else NO_ANSWER))
            sections.append({"lang": lang, "dir": languages.direction(lang), "title": title, "text": text})
        body = render_template("proxy_offline.html", sections=sections).encode("utf-8")
    headers = {
        **HEADERS,
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": str(len(body)),
        "Cache-Control": "no-store",
        "Connection": "close",
    }
    reason = {502: "Bad Gateway", 503: "Service Unavailable"}[status]
    head = f"HTTP/1.0 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode("ascii") + body
