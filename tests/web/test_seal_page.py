"""What a sealed form's page tells seal.js: the part names, from where the server defines them."""

import html
import json
import re

from intake.web import submit, uploads

from ..conftest import ROOT

STATIC = ROOT / "intake" / "static"


def form_attributes(page: str) -> dict:
    """The data attributes of the page's sealed form, unescaped."""
    tag = re.search(r"<form [^>]*data-seal[^>]*>", page).group(0)
    return {name: html.unescape(value) for name, value in re.findall(r'data-([\w-]+)="([^"]*)"', tag)}


def test_the_form_names_its_parts_as_the_server_reads_them(client):
    page = client.get("/en/individual").text  # a form with files
    data = form_attributes(page)
    assert data["token-field"] == "csrf_token"
    assert f'name="{data["token-field"]}" type="hidden"' in page
    assert data["envelope-field"] == submit.ENVELOPE_FIELD
    assert data["files-field"] == uploads.FIELD
    assert f'<input type="file" name="{uploads.FIELD}" id="{uploads.FIELD}"' in page
    assert data["sealed-files-field"] == uploads.SEALED_FIELD


def test_the_form_gives_the_script_the_servers_digits(client):
    data = form_attributes(client.get("/ar/organisation").text)
    zeros = json.loads(data["digits"])
    assert zeros == json.loads(submit.digits_json())
    assert {ord("0"), ord("٠"), ord("۰"), ord("०"), ord("০"), ord("๐"), ord("０")} <= set(zeros)


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
