"""The web application, assembled in one place (create_app calls build_app)."""

import base64
import contextlib
import hashlib
import logging
import os
import secrets
import sys
import traceback
from pathlib import Path

from flask import Flask, Request, current_app, g, render_template, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, RequestTimeout

from intake.formats import keyfiles
from intake.formats.durable import write_atomic
from intake.server import datafolder, limits, settings
from intake.server.dropbox import DropBox
from intake.server.statuses import StatusStore
from intake.web import i18n, security
from intake.web.uploads import NamedFormDataParser, Uploads

log = logging.getLogger("intake")


class SealingRequest(Request):
    """A request whose file parts are sealed as they stream in; Werkzeug would spool them to disk."""

    form_data_parser_class = NamedFormDataParser
    max_form_parts = 100  # a form has about 40 parts; each text part is held to MAX_FORM_MEMORY_SIZE

    @property
    def max_content_length(self) -> int:
        """Room for attachments only where files can come: Werkzeug reads other bodies whole."""
        cfg = current_app.extensions["intake"].config
        if self.mimetype == "multipart/form-data":
            return cfg.max_body_bytes + cfg.max_attachment_bytes * 5 // 4  # sealed streams, framing
        return cfg.max_body_bytes

    @property
    def uploads(self) -> Uploads:
        """This request's file parts (made on first use)."""
        if "intake.uploads" not in self.environ:
            services = current_app.extensions["intake"]
            cfg = services.config
            self.environ["intake.uploads"] = Uploads(
                cfg.staging_dir, cfg.max_attachments, cfg.max_attachment_bytes
            )
        return self.environ["intake.uploads"]

    def _get_file_stream(self, total_content_length=None, content_type=None, filename=None, content_length=None,
                         name=None):  # fmt: skip
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
        kind, _, tb = exc_info
        frames = "; ".join(f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb))
        log.error("unhandled %s at %s", kind.__name__, frames)


class Services:
    """What the views need: settings, stores, limits, and the submission key as the keys folder holds it."""

    def __init__(self, cfg: settings.Config):
        self.config = cfg
        self.dropbox = DropBox(cfg.dropbox_dir)
        self.statuses = StatusStore(cfg.status_dir)
        self.key = keyfiles.SubmissionKey(cfg.keys_dir, log.warning)
        self.integrity = _integrity(STATIC)
        self.result_sizes: dict[str, int] = {}  # each language's lookup answer length (pages.padded)
        # Each worker takes its share of the global rates (docs/security.md, "Floods").
        share = max(1, cfg.workers)
        self.submissions = limits.TokenBucket.per_minute(cfg.submissions_per_minute / share)
        self.lookups = limits.TokenBucket.per_minute(cfg.lookups_per_minute / share)
        self.storage = limits.Storage(
            cfg.dropbox_dir, cfg.quota_bytes, cfg.min_free_bytes, text_reserve_bytes=cfg.text_reserve_bytes
        )

    @property
    def public_key(self):
        """This request's submission key (read once per request), None while the site is offline."""
        if "public_key" not in g:
            g.public_key = self.key.get()
        return g.public_key


STATIC = Path(__file__).resolve().parent.parent / "static"


def _integrity(static: Path) -> dict[str, str]:
    """Subresource-integrity values of every script, from the bytes served (computed at start-up)."""
    return {
        str(path.relative_to(static)): "sha384-"
        + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()
        for path in static.rglob("*.js")
    }


def services() -> Services:
    """The running app's stores, limits and key."""
    return current_app.extensions["intake"]


def _secret_key(cfg: settings.Config) -> str:
    """INTAKE_SECRET_KEY, else one made once per data folder, so every worker signs alike."""
    if cfg.secret_key:
        return cfg.secret_key
    path = cfg.data_dir / "secret_key"
    with contextlib.suppress(FileExistsError):  # another worker made it first
        write_atomic(path, secrets.token_hex(32).encode("ascii"), replace=False)
    return path.read_text(encoding="ascii").strip()


def build_app(test_config=None) -> Flask:
    """Assemble the app from INTAKE_* settings (test_config overrides the environment)."""
    cfg = settings.load({**os.environ, **(test_config or {})})
    datafolder.initialise(cfg.data_dir)
    app = IntakeFlask(__name__, template_folder=str(settings.shipped("templates")), static_folder=str(STATIC))
    app.config.update(
        SECRET_KEY=_secret_key(cfg),
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
    app.wsgi_app = guard_input(app.wsgi_app)
    app.extensions["intake"] = Services(cfg)
    # Streams staged by a request that was cut off (a crash, a kill) are ciphertext, but useless.
    for leftover in cfg.staging_dir.glob("*.part") if cfg.staging_dir.is_dir() else []:
        leftover.unlink(missing_ok=True)
    Babel(app, locale_selector=lambda: g.get("lang", i18n.DEFAULT))
    security.init_app(app, cfg.onion_hostname)

    from intake.web import pages

    app.register_blueprint(pages.bp)
    app.add_url_rule("/", "choose_language", pages.choose_language)

    @app.teardown_request
    def discard_unused_uploads(error=None):
        uploads = request.environ.get("intake.uploads")
        if uploads is not None:
            uploads.discard()  # committed streams were moved away already; anything left goes

    @app.before_request
    def offline_without_key():
        if request.endpoint != "static" and app.extensions["intake"].public_key is None:
            return error_page(503)
        return None

    @app.errorhandler(HTTPException)
    def http_error(error):
        return error_page(error.code if error.code in ERRORS else 400)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_page(403)

    @app.errorhandler(Exception)
    def unexpected(error):
        app.log_exception(sys.exc_info())
        return error_page(500)

    return app


ERRORS = (400, 403, 404, 405, 408, 413, 429, 500, 503)


def error_page(code: int):
    """Render the translated page for an HTTP error, in the language of the URL when it has one."""
    lang = request.path.split("/")[1] if request.path.count("/") > 1 else ""
    g.lang = lang if lang in i18n.LANGUAGES else g.get("lang", i18n.DEFAULT)
    return render_template("error.html", code=code), code
