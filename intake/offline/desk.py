"""`intake-offline desk`: the secretariat's local web application, on the air-gapped machine.

Built on the standard library's http.server, so the offline tool still needs nothing but PyNaCl.
It listens on 127.0.0.1 only. Every request must name the random token of the one URL it prints,
in its path, and a Host header naming 127.0.0.1 and the port; anything else is refused (403)
before it is read, so no other program or web page on the machine can read or change anything.
The token is in the path rather than a cookie: browsers send a 127.0.0.1 cookie to every port of
127.0.0.1, so another local program's page would receive it. docs/security.md, section 10.
"""

import hmac
import re
import secrets
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from intake.formats.keyring import Keyring
from intake.offline import cases, desk_answer, desk_pages, pages, runs
from intake.offline.desk_pages import Response

MAX_BODY = 256 * 1024  # a decision, a note, a passphrase: far less
POLICY = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass
class Desk:
    """The folder the desk works in, the keyring's path (and the keyring, if it was opened at the
    start), the language questions are shown in, and the token every request must carry."""

    out: Path
    keyring_path: Path
    keyring: Keyring | None
    lang: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # one writer at a time
    written: str | None = None  # the last return bundle written, said once on the answer page

    @property
    def base(self) -> str:
        """The path every page of the desk lives under."""
        return f"/{self.token}/"

    @property
    def url(self) -> str:
        """The one address the desk answers at."""
        return f"http://127.0.0.1:{self.port}{self.base}"

    def folder(self) -> cases.Folder:
        """The folder as it is now: read for every page, so a decrypt or a spreadsheet shows at once."""
        return cases.read(self.out, runs.read(self.out), cases.new_items(self.out))


def get(desk: "Desk", path: str, query: dict[str, str]) -> Response:
    """Route a GET."""
    if path == "/":
        return desk_pages.inbox(desk, query)
    if path == "/style.css":
        return Response(200, pages.style().encode("utf-8"), "text/css; charset=utf-8")
    if path == "/answer":
        return desk_answer.page(desk, query)
    if match := re.fullmatch(r"/case/([0-9a-f]{32})", path):
        return desk_pages.case_page(desk, match[1], saved=query.get("saved", ""))
    if match := re.fullmatch(r"/file/([^/]+)/([^/]+)", path):
        return desk_pages.download(desk, match[1], match[2])
    return desk_pages.layout(desk, "Not found", "<h1>Not found</h1>", "", 404)


def post(desk: "Desk", path: str, form: dict[str, str]) -> Response:
    """Route a POST."""
    if match := re.fullmatch(r"/case/([0-9a-f]{32})/decision", path):
        return desk_pages.decide(desk, match[1], form)
    if match := re.fullmatch(r"/case/([0-9a-f]{32})/note", path):
        return desk_pages.save_note(desk, match[1], form)
    if path == "/language":
        return desk_pages.choose_language(desk, form)
    if path == "/answer":
        return desk_answer.write(desk, form)
    return desk_pages.layout(desk, "Not found", "<h1>Not found</h1>", "", 404)


def _fields(parsed: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[-1] for name, values in parsed.items()}


def _guarded(view: Callable[[Desk, str, dict[str, str]], Response], *args: Any) -> Response:
    """A page, or a bug reported by the error's type alone (its message could quote a request)."""
    try:
        return view(*args)
    except Exception as e:
        text = f"The desk could not do this: unexpected {type(e).__name__} (a bug: please report it)\n"
        return Response(500, text.encode("utf-8"), "text/plain; charset=utf-8")


FORBIDDEN = Response(403, b"Forbidden\n", "text/plain; charset=utf-8")


class Handler(BaseHTTPRequestHandler):
    """One request: refused unless it carries the token and names 127.0.0.1; then routed."""

    desk: Desk  # set on the subclass serve() makes
    server_version = "intake-desk"
    sys_version = ""
    timeout = 30  # a connection that stalls is dropped

    def version_string(self) -> str:
        """Name the desk, not the Python it runs on."""
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing: a path carries the token, a query a search."""

    def _route(self) -> tuple[str, str] | None:
        """The path after the token and the query, if the request may be answered at all."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or hosts[0].lower() != f"127.0.0.1:{self.desk.port}":
            return None  # another name for this machine: DNS rebinding, or a page elsewhere
        target, _, query = self.path.partition("?")
        if not target.startswith("/"):
            return None
        token, _, rest = target[1:].partition("/")
        if not hmac.compare_digest(token.encode("latin-1", "replace"), self.desk.token.encode("ascii")):
            return None
        if self.command == "POST":
            # Beyond the token, which no other page can know: a form posted from elsewhere says so.
            # (Under Referrer-Policy: no-referrer, Chromium sends "Origin: null" for our own forms;
            # Sec-Fetch-Site still tells where a form came from.)
            origin = self.headers.get("Origin")
            if origin not in (None, "null", f"http://127.0.0.1:{self.desk.port}"):
                return None
            if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                return None
        return "/" + rest, query

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in {**HEADERS, **response.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.close_connection = True

    def do_GET(self) -> None:
        """Show a page, the style sheet, or an attachment as a download."""
        route = self._route()
        if route is None:
            return self._send(FORBIDDEN)
        path, query = route
        try:
            fields = _fields(urllib.parse.parse_qs(query, max_num_fields=20))
        except ValueError:
            return self._send(Response(400, b"Bad Request\n", "text/plain; charset=utf-8"))
        self._send(_guarded(get, self.desk, path, fields))

    def do_POST(self) -> None:
        """Save a decision or a note, choose the language, write the return bundle."""
        route = self._route()
        if route is None:
            return self._send(FORBIDDEN)  # the body is never read
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._send(Response(411, b"Length Required\n", "text/plain; charset=utf-8"))
        if not 0 <= length <= MAX_BODY:
            return self._send(Response(413, b"Too Large\n", "text/plain; charset=utf-8"))
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = self.rfile.read(length)
        try:
            form = urllib.parse.parse_qs(
                body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20
            )
        except (UnicodeDecodeError, ValueError):
            form = None
        if kind != "application/x-www-form-urlencoded" or form is None:
            return self._send(Response(400, b"Bad Request\n", "text/plain; charset=utf-8"))
        self._send(_guarded(post, self.desk, route[0], _fields(form)))

    def _refused_method(self) -> None:
        route = self._route()
        self._send(FORBIDDEN if route is None else Response(405, b"Method Not Allowed\n", "text/plain"))

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refused_method


def serve(desk: Desk, port: int = 0) -> ThreadingHTTPServer:
    """Listen on 127.0.0.1 (port 0: any free one); the caller prints desk.url and serves forever."""
    handler = type("DeskHandler", (Handler,), {"desk": desk})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    desk.port = server.server_address[1]
    return server
