"""What a sealed form's page tells seal.js: the part names, from where the server defines them."""

import base64
import hashlib
import html
import json
import re

import pytest
from flask import g

from intake.formats import refcode
from intake.web import checks, submit, uploads
from intake.web.forms import EnvelopeForm

from ..conftest import LANGS, ROOT

STATIC = ROOT / "intake" / "static"


def form_attributes(page: str) -> dict:
    """The data attributes of the page's sealed form, unescaped."""
    tag = re.search(r"<form [^>]*data-seal[^>]*>", page).group(0)
    return {name: html.unescape(value) for name, value in re.findall(r'data-([\w-]+)="([^"]*)"', tag)}


def test_the_form_names_its_parts_as_the_server_reads_them(app, client):
    page = client.get("/en/individual").text  # a form with files
    data = form_attributes(page)
    assert data["token-field"] == "csrf_token"
    assert f'name="{data["token-field"]}" type="hidden"' in page
    assert data["envelope-field"] == submit.ENVELOPE_FIELD
    with app.test_request_context("/en/individual"):
        assert submit.ENVELOPE_FIELD in EnvelopeForm()  # the field the server reads the envelope from
    assert data["files-field"] == uploads.FIELD
    assert f'<input type="file" name="{uploads.FIELD}" id="{uploads.FIELD}"' in page
    assert data["sealed-files-field"] == uploads.SEALED_FIELD


@pytest.mark.parametrize("lang", LANGS)
def test_the_form_names_its_checks_and_they_are_the_servers(app, client, lang):
    """The rules, look-alikes, digits and country codes seal.js checks with are one file per form and
    language, pinned by the page's integrity, cacheable, not in the page."""
    for kind, form_class in checks.SEALED.items():
        page = client.get(f"/{lang}/{kind if kind != 'followup' else 'feedback'}").text
        data = form_attributes(page)
        assert not {"rules", "lookalikes", "digits"} & set(data)
        if kind == "followup":  # shown under a "more information" status: its checks' address
            with app.test_request_context(f"/{lang}/status"):
                g.lang = lang
                data = {
                    "checks": (ref := checks.reference(kind))["url"],
                    "checks-integrity": ref["integrity"],
                }
        sent = client.get(data["checks"])
        assert sent.status_code == 200 and sent.mimetype == "application/json"
        digest = base64.b64encode(hashlib.sha384(sent.data).digest()).decode()
        assert data["checks-integrity"] == f"sha384-{digest}"
        assert "immutable" in sent.headers["Cache-Control"]
        found = json.loads(sent.data)
        with app.test_request_context(f"/{lang}/{kind}"):
            g.lang = lang
            rules = form_class(formdata=None).rules()
        assert found["rules"] == [rule | ({"choices": sorted(rule["choices"])} if "choices" in rule else {})
                                  for rule in rules]  # fmt: skip
        assert found["lookalikes"] == refcode.LOOKALIKES and found["digits"] == checks.digits()
        assert {ord("0"), ord("٠"), ord("۰"), ord("०"), ord("০"), ord("๐"), ord("０")} <= set(found["digits"])
        if kind in ("individual", "organisation"):  # each country the page lists, by its name
            listed = re.findall(r"<option>([^<]+)", page)
            assert len(listed) == 257 * (2 if kind == "individual" else 1)
            [country] = [rule for rule in found["rules"] if rule["name"] == "country"]
            assert {found["countries"][html.unescape(name)] for name in listed} == set(country["choices"]) - {
                ""
            }
        else:
            assert "countries" not in found
        stale = data["checks"].replace(".json", "0.json")
        assert client.get(stale).status_code == 404


def test_the_page_script_names_none_of_the_parts_itself():
    script = (STATIC / "seal.js").read_text(encoding="utf-8")
    for name in ("csrf_token", submit.ENVELOPE_FIELD, uploads.FIELD, uploads.SEALED_FIELD):
        assert f'"{name}"' not in script and f"'{name}'" not in script, name
    format_module = (STATIC / "seal-format.js").read_text(encoding="utf-8")
    assert "document." not in format_module  # the Node tests run it without one


def test_the_format_module_loads_before_the_page_script(client):
    page = client.get("/fr/feedback").text
    scripts = re.findall(r'<script src="/static/([\w./-]+)"', page)
    assert scripts == [
        "vendor/tweetnacl-1.0.3/nacl-fast.min.js",
        "vendor/tweetnacl-sealedbox-js-1.2.0/sealedbox.web.js",
        "seal-format.js",
        "seal.js",
    ]


def test_the_checks_file_is_the_same_for_everyone(app, client):
    """Cacheable, so it carries nothing of anyone's: no cookie, even from a worker that has just
    made it (a form made for its rules must not start a session)."""
    name = re.search(r'data-checks="([^"]+)"', client.get("/ru/individual").text).group(1)
    checks._file.cache_clear()  # a worker that has not made it yet
    sent = app.test_client().get(name)  # a browser with no cookie for the site
    assert sent.status_code == 200 and "Set-Cookie" not in sent.headers
    assert sent.headers["Cache-Control"] == checks.CACHED
