"""The web application, assembled in one place (create_app calls build_app)."""

import logging
import os

from flask import Flask, Request, g, request
from flask_babel import Babel
from werkzeug.exceptions import BadRequest, HTTPException, RequestTimeout

from intake.formats import languages
from intake.server import datafolder, settings
from intake.web import checks, errors, security
from intake.web.services import STATIC, Services, services
from intake.web.uploads import NamedFormDataParser, Uploads

log = logging.getLogger("intake")


class SealingRequest(Request):
    """A request whose file parts are sealed as they stream in; Werkzeug would spool them to disk."""

    form_data_parser_class = NamedFormDataParser
    max_form_parts = 100  # a form has about 40 parts; each text part is held to MAX_FORM_MEMORY_SIZE

    # Computed per request, and read-only: it replaces Werkzeug's attribute and Flask's settable
    # property, which mypy cannot see as an override (nothing here ever sets the limit).
    @property  # type: ignore[misc]
    def max_content_length(self) -> int:  # type: ignore[override]
        """Room for attachments only where files can come: Werkzeug reads other bodies whole."""
        cfg = services().config
        if self.mimetype == "multipart/form-data":
            return cfg.max_body_bytes + cfg.max_attachment_bytes * 5 // 4  # sealed streams, framing
        return cfg.max_body_bytes

    @property
    def uploads(self) -> Uploads:
        """This request's file parts (made on first use)."""
        if "intake.uploads" not in self.environ:
            cfg = services().config
            self.environ["intake.uploads"] = Uploads(
                services().store, services().quota, cfg.max_attachments, cfg.max_attachment_bytes
            )
        return self.environ["intake.uploads"]

    def _get_file_stream(
        self, total_content_length=None, content_type=None, filename=None, content_length=None, name=None
    ):
        return self.uploads.part(name, filename, content_type)


class GuardedInput:
    """The request body as the server hands it over: a fault while reading it is the client's.

    A body that stops arriving in time (the server's deadline) is a 408; a malformed chunk, a
    cut connection or anything else that breaks reading is a 400; never a 500.
    """

    def __init__(self, stream):
        self.stream = stream

    def _guard(self, method, *args):
        try:
            return method(*args)
        except TimeoutError:
            raise RequestTimeout() from None
        except HTTPException:
            raise
        except Exception:
            raise BadRequest() from None

    def read(self, *args):
        """Read, as the server's stream does."""
        return self._guard(self.stream.read, *args)

    def readline(self, *args):
        """Read a line, as the server's stream does."""
        return self._guard(self.stream.readline, *args)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def guard_input(wsgi_app):
    """WSGI middleware: every request body is read through GuardedInput."""

    def app(environ, start_response):
        environ["wsgi.input"] = GuardedInput(environ["wsgi.input"])
        return wsgi_app(environ, start_response)

    return app


class IntakeFlask(Flask):
    """Flask, minus two ways that plaintext could reach a disk or a log."""

    request_class = SealingRequest

    def log_exception(self, exc_info):
        """Log where an error happened, never its message: messages can quote what was typed."""
        errors.log_exception(exc_info)


def build_app(test_config=None) -> Flask:
    """Assemble the app from INTAKE_* settings (test_config overrides the environment)."""
    cfg = settings.load({**os.environ, **(test_config or {})})
    store = datafolder.initialise(cfg, worker=True)
    secret = datafolder.secret(cfg)
    app = IntakeFlask(__name__, template_folder=str(settings.shipped("templates")), static_folder=str(STATIC))
    app.config.update(
        SECRET_KEY=secret,
        WTF_CSRF_TIME_LIMIT=cfg.csrf_hours * 3600,
        WTF_CSRF_SSL_STRICT=False,  # onion services are plain HTTP; no-referrer hides the Referer anyway
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="intake",
        # One text part (the browser's envelope is the largest, 88 kB); bodies are limited by
        # SealingRequest.max_content_length, and file parts by uploads.py while they stream.
        MAX_FORM_MEMORY_SIZE=128 * 1024,
        BABEL_TRANSLATION_DIRECTORIES=str(settings.shipped("translations")),
    )
    # Block tags leave no blank lines and indentation behind: a page is downloaded whole.
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.wsgi_app = guard_input(app.wsgi_app)  # type: ignore[method-assign]  # Flask's way to add middleware
    app.extensions["intake"] = Services(cfg, store, secret)
    Babel(app, locale_selector=lambda: g.get("lang", languages.DEFAULT))
    security.init_app(app, cfg.onion_hostname)

    from intake.web import lookup, pages  # noqa: F401 (lookup adds its route to the site's blueprint)

    app.register_blueprint(pages.bp)
    app.add_url_rule("/", "choose_language", pages.choose_language)
    app.add_url_rule("/checks/<name>", "checks", checks.serve)

    @app.teardown_request
    def discard_unused_uploads(error=None):
        uploads = request.environ.get("intake.uploads")
        if uploads is not None:
            uploads.discard()  # committed streams were moved away already; anything left goes

    @app.before_request
    def offline_without_key():
        if request.endpoint != "static" and app.extensions["intake"].public_key is None:
            return errors.error_page(503)
        return None

    errors.init_app(app)
    return app
