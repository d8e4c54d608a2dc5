"""Submitting without JavaScript: sealed in server memory, stored durably, readable offline only."""

import re
import secrets
import tempfile

import pytest

from intake.formats import item, refcode
from intake.offline.decrypt import decrypt_bundle
from intake.server import cli

from ..actors import Secretariat, code_of, multipart
from ..conftest import LANGS, both_engines, drop_box, everything_under, filled, item_ids, status_of


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("form", ["individual", "organisation", "feedback"])
def test_submit_export_decrypt_round_trip(tmp_path, site, defender, keyring, lang, form, monkeypatch):
    marker = f"MARK{secrets.token_hex(8)}"
    answers = filled(form, marker)
    response = defender.send(lang, form, answers)
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["Cache-Control"] == "no-store"
    code = code_of(response.text)
    assert refcode.normalise(code)

    data_dir = site["INTAKE_DATA_DIR"]
    items = drop_box(site)["items"]
    assert len(items) == 1 and len(items[0][1]) == item.ITEM_SIZE
    for path, data in everything_under(data_dir):  # the marker, the code and every answer: nowhere on disk
        assert marker.encode() not in data, path
        assert code.encode() not in data and refcode.normalise(code).encode() not in data, path
    assert status_of(site, code).status == "received"

    for name, value in site.items():
        monkeypatch.setenv(name, value)
    bundle = tmp_path / "export.bin"
    assert cli.main(["export", "--out", str(bundle)]) == 0
    report = decrypt_bundle(bundle, keyring, tmp_path / "read")
    assert report.ok and report.written == 1
    request = next(iter(decrypt_requests(tmp_path / "read")))
    assert request["reference"] == code
    assert request["form"] == form and request["origin"] == "server"
    assert request["request"]["lang"] == lang
    fields = request["request"]["fields"]
    expected = dict(answers)
    if "amount_eur" in expected:
        expected["amount_eur"] = "3000"  # Arabic-Indic digits, read as the number they are
    assert {k: fields[k] for k in expected} == expected


def decrypt_requests(out):
    yield from Secretariat.requests(out)


@both_engines
def test_export_twice_is_safe_and_deletes_nothing(tmp_path, site, defender, monkeypatch, keyring):
    for _ in range(3):
        assert defender.send("en", "feedback", filled("feedback", "x")).status_code == 200
    for name, value in site.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["export", "--out", str(tmp_path / "a.bin")]) == 0
    assert cli.main(["export", "--out", str(tmp_path / "a.bin")]) == 2  # refuses to overwrite
    assert cli.main(["export", "--out", str(tmp_path / "b.bin")]) == 0
    assert len(item_ids(site)) == 3
    for name in ("a.bin", "b.bin"):
        assert decrypt_bundle(tmp_path / name, keyring, tmp_path / "out").ok
    assert len(list(decrypt_requests(tmp_path / "out"))) == 3


@pytest.mark.parametrize("lang", LANGS)
def test_errors_keep_every_answer_and_are_translated(app, defender, site, lang):
    answers = filled("individual", "KEEPME")
    del answers["defender_name"], answers["hr_work"]
    answers["contact_details"] = ""  # required because contact_method is email
    answers["amount_eur"] = "three thousand"
    response = defender.send(lang, "individual", answers)
    assert response.status_code == 400
    with app.test_request_context(f"/{lang}/"):
        from flask import g
        from flask_babel import gettext, refresh

        g.lang = lang
        refresh()
        required = gettext("Please answer this question.")
        number = gettext("Please write a whole number, for example 3000.")
        summary = gettext("Please check these answers")
    if lang != "en":
        assert required != "Please answer this question."
    page = response.text
    assert 'role="alert"' in page and summary in page
    assert page.count(required) >= 2 * 3  # next to each field and in the summary
    assert number in page
    for value in (answers["risk_description"], answers["measures_other"], "three thousand"):
        assert value.replace("'", "&#39;") in page or value in page
    assert re.search(r'<input [^>]*checked [^>]*value="legal_aid"', page)
    assert not re.search(r'<input [^>]*checked [^>]*value="medical"', page)
    assert item_ids(site) == []


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("en", "Please check these answers: Feedback or complaint | "),
        ("fr", "Veuillez vérifier ces réponses\u00a0: Commentaire ou plainte | "),
    ],
)
def test_a_page_with_errors_says_so_in_its_title_as_the_language_writes_it(defender, lang, title):
    """A screen reader announces the title first; French puts a no-break space before its colon."""
    response = defender.send(lang, "feedback", {})
    assert response.status_code == 400
    assert re.search(r"<title>(.*?)</title>", response.text).group(1).startswith(title)


def test_missing_or_stale_csrf_keeps_answers_and_stores_nothing(client, site):
    answers = filled("feedback", "CSRFMARK")
    client.get("/fr/feedback")
    response = client.post("/fr/feedback", data=answers)
    assert response.status_code == 403
    assert "CSRFMARK" in response.text
    response = client.post("/fr/feedback", data={**answers, "csrf_token": "forged"})
    assert response.status_code == 403
    assert item_ids(site) == []


def test_large_parts_are_never_spooled_to_disk(defender, monkeypatch, tmp_path):
    """Werkzeug writes a part over 500 kB to a temporary file: plaintext on disk. With nowhere to
    write one, a request that spooled would fail; ours seals file parts as they stream, drops parts
    it has no use for, and so never needs one."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "nowhere"))
    big = b"SPOOLMARK" * 250_000  # 2.25 MB, far over Werkzeug's 500 kB threshold
    answers = filled("individual", "x")
    response = defender.send("en", "individual", answers, files=[("evidence.txt", big)])
    assert response.status_code == 200, response.text[:300]
    content_type, body = multipart({**answers, "csrf_token": defender.token("en", "individual")})
    stray = f'--{content_type.split("=")[1]}\r\nContent-Disposition: form-data; name="upload"; filename="x.txt"\r\n\r\n'
    body = stray.encode() + big + b"\r\n" + body  # a file part under a name the form does not have
    assert defender.post("/en/individual", body, content_type).status_code == 200
    assert not (tmp_path / "nowhere").exists()


def test_oversized_body_is_refused_with_a_translated_page(client):
    response = client.post("/ru/feedback", data={"message": "x" * 600_000})
    assert response.status_code == 413
    assert 'lang="ru"' in response.text
