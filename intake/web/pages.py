"""The defender's pages and the site's blueprint. Thin: forms validate, submit.py has the request
sealed and accepted, lookup.py answers a status, templates render."""

import datetime
import functools
import logging

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale

from intake.formats import languages
from intake.web import fields
from intake.web.errors import ERROR_TEXT
from intake.web.forms import FeedbackForm, FollowupForm
from intake.web.services import services
from intake.web.submit import sealed_form_page
from intake.web.support_forms import IndividualForm, OrganisationForm

bp = Blueprint("site", __name__, url_prefix="/<lang>")
log = logging.getLogger("intake")


def format_day(day: str) -> str:
    """A day (YYYY-MM-DD) as the page's language writes it in full (templates call it format_date)."""
    return format_date(datetime.date.fromisoformat(day), format="long")


def known_day(day: str) -> str:
    """format_day, kept per language and day: a status page is filled with it every lookup."""
    return _known_day(str(get_locale()), day)


@functools.lru_cache(maxsize=4096)
def _known_day(locale: str, day: str) -> str:
    # Babel formats in the request's language, which is `locale`: the key the day is kept under.
    return format_day(day)


@bp.app_context_processor
def page_context():
    """What every template may use: the language, its direction, switch links, public settings."""
    cfg = services().config
    lang = g.get("lang", languages.DEFAULT)

    def switch_url(code):
        # The same page in another language (GET only: a POST's answers are not carried over).
        endpoint = request.endpoint if request.endpoint and request.endpoint.startswith("site.") else None
        return url_for(endpoint or "site.landing", lang=code)

    return {
        "direction": languages.direction(lang),
        "languages": [(code, name) for code, (name, _dir) in languages.LANGUAGES.items()],
        "switch_url": switch_url,
        "emergency_contact": cfg.emergency_contact,
        "onion_hostname": cfg.onion_hostname,
        "error_title": lambda code: ERROR_TEXT[code][0],
        "error_text": lambda code: ERROR_TEXT[code][1],
        "format_date": format_day,
        "integrity": services().integrity.__getitem__,
        "demo_keys": services().key.demo,
        "note": fields.note,
    }


@bp.url_value_preprocessor
def take_language(endpoint, values):
    """Every page's language comes from its URL prefix."""
    g.lang = values.pop("lang")
    if g.lang not in languages.LANGUAGES:
        g.lang = languages.DEFAULT
        abort(404)


@bp.url_defaults
def keep_language(endpoint, values):
    """Links stay in the page's language unless they ask for another."""
    values.setdefault("lang", g.lang)


def choose_language():
    """The root page: the five languages, each in its own words."""
    g.lang = languages.DEFAULT
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
