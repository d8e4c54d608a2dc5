"""Pages rendered once per worker, with a marker where each request's own value goes, then filled.

Rendering a page through Jinja, Babel and WTForms costs more than everything else a lookup or a
submission does (docs/benchmarks.md). The answers that matter most are the same page again and
again but for a token, a code, a date or a message: those are rendered once, by the same
templates and functions as any page, with markers in place of the values, and each request only
joins the pieces with its values escaped as Jinja would escape them. A test compares every such
page with the full render.
"""

import re
from collections.abc import Callable, Hashable

from flask import g, request
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from intake.web.services import services

# Private-use characters: no template, translation, filter or escaping makes or changes them.
_MARKER = re.compile("\ue000([a-z_]+)\ue001")
MAX_PAGES = 1024  # far more than the variants there are; a bound all the same (each key holds a key id)


def marker(name: str) -> str:
    """What a page is rendered with where the value `name` goes."""
    return f"\ue000{name}\ue001"


class Prerendered:
    """A page split at its markers: the text between them, and which value goes where."""

    def __init__(self, page: str):
        pieces = _MARKER.split(page)
        self.texts, self.names = pieces[0::2], pieces[1::2]

    def fill(self, **values: str) -> str:
        """The page with each marker replaced by its value, escaped as Jinja escapes text."""
        escaped = {name: str(escape(value)) for name, value in values.items()}
        out = [self.texts[0]]
        for name, text in zip(self.names, self.texts[1:], strict=True):
            out += (escaped[name], text)
        return "".join(out)


def prerendered(key: Hashable, render: Callable[[], str]) -> Prerendered:
    """The page `render` makes (with markers, the form token's among them), rendered once per worker
    for `key` and the request's own settings: its language, the demo banner and the path the site
    is served under."""
    pages = services().pages
    full_key = (key, g.lang, services().key.demo, request.script_root)
    found = pages.get(full_key)
    if found is None:
        if len(pages) >= MAX_PAGES:
            pages.clear()
        # Flask-WTF keeps the request's form token in g (its documented place), and every form
        # renders it from there: a marker for the page, then the request's own token again.
        token = generate_csrf()
        g.csrf_token = marker("token")
        try:
            found = pages[full_key] = Prerendered(render())
        finally:
            g.csrf_token = token
    return found
