"""Every page in every language, the headers, the offline page and the status lookup."""

import re

import pytest

from intake import create_app
from intake.formats import refcode
from intake.web.security import CSP

from ..conftest import LANGS, filled, item_ids, store_of

PAGES = ["", "individual", "organisation", "feedback", "status", "other-support"]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_in_every_language(client, lang, page):
    response = client.get(f"/{lang}/{page}")
    assert response.status_code == 200
    html = response.text
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in html
    for other in LANGS:  # the switcher offers the same page in every language
        assert f'href="/{other}/{page}"' in html
    # Nothing outside the site: no absolute URLs in src or href, no inline script or style.
    assert not re.search(r'(src|href|action)="(https?:)?//', html)
    assert "style=" not in html
    # Scripts only from this site, pinned by integrity, never inline.
    for script in re.findall(r"<script[^>]*>[^<]*</script>", html):
        assert re.fullmatch(
            r'<script src="/static/[\w./-]+\.js" integrity="sha384-[\w+/=]+" defer></script>', script
        )
    assert html.count("<script") == len(re.findall(r"<script[^>]*></script>", html))


def test_root_offers_the_five_languages(client):
    html = client.get("/").text
    for lang in LANGS:
        assert f'href="/{lang}/"' in html


def test_security_headers_on_every_response(client):
    for path in ["/", "/en/", "/ar/status", "/en/nope", "/static/style.css"]:
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP
        assert "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Onion-Location" not in response.headers
        assert "Strict-Transport-Security" not in response.headers
        if not path.startswith("/static"):
            assert response.headers["Cache-Control"] == "no-store"
        response.close()


def test_session_cookie_is_strict_and_httponly(client):
    client.get("/en/feedback")
    header = client.get("/en/feedback").headers.get("Set-Cookie") or ""
    cookie = client.get_cookie("intake")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict", header


def test_onion_location_when_configured(site):
    onion = "a" * 56 + ".onion"
    client = create_app({**site, "INTAKE_ONION_HOSTNAME": onion}).test_client()
    response = client.get("/fr/status")
    assert response.headers["Onion-Location"] == f"http://{onion}/fr/status"
    assert onion in client.get("/fr/").text
    on_onion = client.get("/fr/status", headers={"Host": onion})
    assert "Onion-Location" not in on_onion.headers


@pytest.mark.parametrize("lang", LANGS)
def test_without_a_key_the_site_is_offline_not_accepting(site, tmp_path, lang):
    site = {**site, "INTAKE_KEYS_DIR": str(tmp_path / "no-keys")}
    client = create_app(site).test_client()
    for path in (f"/{lang}/", f"/{lang}/individual"):
        response = client.get(path)
        assert response.status_code == 503
        assert f'lang="{lang}"' in response.text
    response = client.post(f"/{lang}/feedback", data=filled("feedback", "OFFLINE"))
    assert response.status_code == 503
    assert item_ids(site) == []


def test_a_bad_key_file_is_offline_too(site, tmp_path):
    keys = tmp_path / "bad-keys"
    keys.mkdir()
    (keys / "submission.pub").write_text("intake-submission-key-v1 not-hex\n")
    client = create_app({**site, "INTAKE_KEYS_DIR": str(keys)}).test_client()
    assert client.get("/en/").status_code == 503


@pytest.mark.parametrize("lang", LANGS)
def test_status_lookup_and_the_neutral_answer(defender, lang):
    code = defender.submit(lang, "feedback", "x")
    found = defender.look_up(lang, code.lower().replace("-", " "))
    assert found.status_code == 200
    assert 'class="result"' in found.text and code not in found.text
    unknown = defender.look_up(lang, refcode.display(refcode.make()))
    another = defender.look_up(lang, refcode.display(refcode.make()).lower())  # well formed, unknown
    assert unknown.status_code == another.status_code == 200

    def answer(response):
        return re.search(r'<div class="result" role="status">(.*?)</div>', response.text, re.S).group(1)

    assert answer(unknown) == answer(another) != answer(found)


def test_status_post_keeps_the_code_out_of_urls(client):
    html = client.get("/en/status").text
    assert re.search(r'<form method="post"', html)
    response = client.get("/en/status?reference_code=ABC")
    assert "ABC" not in response.text


@pytest.mark.parametrize("code", [404, 405])
def test_error_pages_are_translated(client, code):
    response = client.get("/ar/nope") if code == 404 else client.delete("/ar/status")
    assert response.status_code == code
    assert 'dir="rtl"' in response.text


def error_title(app, lang, code):
    from flask import g
    from flask_babel import refresh

    from intake.web.errors import error_page

    with app.test_request_context(f"/{lang}/x"):
        g.lang = lang
        refresh()
        html, status = error_page(code)
    assert status == code and f'lang="{lang}"' in html
    return re.search(r"<h1>(.*)</h1>", html).group(1)


@pytest.mark.parametrize("lang", LANGS[1:])
def test_every_error_page_is_translated(app, lang):
    from intake.web.errors import ERROR_TEXT

    for code in ERROR_TEXT:
        assert error_title(app, lang, code) != error_title(app, "en", code)


def test_a_server_fault_is_a_translated_500_without_details(site, defender, caplog):
    from intake.formats.return_bundle import Update
    from intake.server import statuses

    code = defender.submit("ru", "feedback", "x")
    lookup = refcode.lookup_id(refcode.normalise(code))
    mac_key = statuses.mac_key(site["INTAKE_SECRET_KEY"].encode())
    with store_of(site) as store:  # a damaged status record, which the server itself vouches for
        store.put_status(statuses.from_update(Update(lookup, "received", "SECRETDETAIL"), mac_key))
    response = defender.look_up("ru", code)
    assert response.status_code == 500
    assert 'lang="ru"' in response.text and "Traceback" not in response.text
    assert "SECRETDETAIL" not in response.text and "SECRETDETAIL" not in caplog.text
    assert code not in caplog.text
    assert "unhandled ValueError at" in caplog.text
