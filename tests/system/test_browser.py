"""Real Chromium against real gunicorn: every form, every language, JavaScript off and on."""

import json
import os
import re
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from intake.offline.decrypt import decrypt_bundle
from intake.web.fields import country_names

from ..actors import Secretariat
from ..conftest import LANGS, everything_under, filled

FORMS = ("individual", "organisation", "feedback")


def fill(page, answers: dict) -> None:
    """Answer a form the way a person would: type, tick, choose."""
    for name, value in answers.items():
        if isinstance(value, list):
            for v in value:
                page.check(f'input[name="{name}"][value="{v}"]')
            continue
        control = page.locator(f'[name="{name}"]').first
        kind = control.evaluate("c => c.type")
        if kind == "radio":
            page.check(f'input[name="{name}"][value="{value}"]')
        elif kind.startswith("select"):  # a country by its name, in the page's language (CountryList)
            lang = page.evaluate("document.documentElement.lang")
            control.select_option(country_names(lang).get(value, value))
        else:
            control.fill(value)


def field_names(body: str) -> set[str]:
    """The names of the fields in a POST body, multipart or urlencoded."""
    if body.startswith("--"):
        return set(re.findall(r'Content-Disposition: form-data; name="([^"]+)"', body))
    return set(urllib.parse.parse_qs(body))


def export_and_read(tmp_path, env, keyring) -> list[dict]:
    """Export the drop box with the operator's command and decrypt it offline: every request."""
    bundle = tmp_path / f"export-{secrets.token_hex(4)}.bin"
    subprocess.run(
        [Path(sys.executable).parent / "intake", "export", "--out", bundle],
        env=env,
        check=True,
        capture_output=True,
    )
    out = tmp_path / "read"
    assert decrypt_bundle(bundle, keyring, out).ok
    return Secretariat.requests(out)


def request_of(code: str, tmp_path, env, keyring) -> dict:
    """The one request the secretariat reads under a reference code, exported and decrypted."""
    [request] = [r for r in export_and_read(tmp_path, env, keyring) if r["reference"] == code]
    return request


def shown_code(page) -> str:
    """The reference code the receipt shows, in the language on screen."""
    return page.locator("p.code bdi:visible").inner_text()


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
@pytest.mark.parametrize("lang", LANGS)
def test_every_form_round_trips_from_the_browser(chromium, server, tmp_path, keyring, lang, javascript):
    context = chromium.new_context(java_script_enabled=javascript)
    page = context.new_page()
    posted = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    sent = {}
    for form in FORMS:
        marker = f"BMARK{secrets.token_hex(6)}"
        answers = filled(form, marker)
        page.goto(f"{server['url']}/{lang}/{form}")
        fill(page, answers)
        with page.expect_navigation():
            page.locator("form[data-seal] button[type=submit]").click()
        code = shown_code(page)
        assert re.fullmatch(r"[0-9A-Z]{5}(-[0-9A-Z]{5}){3}", code)
        body = posted[-1]
        fields = field_names(body)
        if javascript:  # only the envelope and the token left the browser
            assert fields == {"csrf_token", "envelope"} and marker not in body
        else:
            assert "envelope" not in fields and marker in body
        sent[code] = (form, answers)
    context.close()

    received = {r["reference"]: r for r in export_and_read(tmp_path, server["env"], keyring)}
    for code, (form, answers) in sent.items():
        request = received[code]
        assert request["form"] == form and request["request"]["lang"] == lang
        assert request["origin"] == ("browser" if javascript else "server")
        for name, value in answers.items():
            assert request["request"]["fields"][name] == ("3000" if name == "amount_eur" else value)


# Every answer a form holds, as the defender sees it: what is typed, ticked and chosen.
ANSWERS_SHOWN = """form => [...form.elements]
  .filter(c => c.name && !["hidden", "file", "submit", "button"].includes(c.type))
  .map(c => [c.name, c.type === "checkbox" || c.type === "radio" ? c.value + ":" + c.checked : c.value])"""


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
@pytest.mark.parametrize("lang", LANGS)
def test_nothing_is_typed_twice(chromium, server, tmp_path, keyring, lang, javascript):
    """WCAG 3.3.7, redundant entry: a form that comes back with an error shows every answer as it
    was given (the countries too), so the defender adds only what was missing and sends it all."""
    context = chromium.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(f"{server['url']}/{lang}/individual")
    answers = filled("individual", "TWICE")
    fill(page, {name: value for name, value in answers.items() if name != "hr_work"})
    given = page.locator("form[data-seal]").evaluate(ANSWERS_SHOWN)
    if javascript:
        page.locator("form[data-seal] button[type=submit]").click()
        page.locator("#hr_work-js-error").wait_for()
    else:
        with page.expect_navigation():
            page.locator("form[data-seal] button[type=submit]").click()
        assert page.locator("#hr_work-error").is_visible()
    assert page.locator("form[data-seal]").evaluate(ANSWERS_SHOWN) == given
    page.fill("#hr_work", answers["hr_work"])
    with page.expect_navigation():
        page.locator("form[data-seal] button[type=submit]").click()
    code = shown_code(page)
    context.close()
    request = request_of(code, tmp_path, server["env"], keyring)
    for name, value in answers.items():
        assert request["request"]["fields"][name] == ("3000" if name == "amount_eur" else value), name


@pytest.mark.parametrize("lang", LANGS)
def test_a_code_that_cannot_be_one_is_told_why_on_the_feedback_form(chromium, server, app, lang):
    """The optional code of an earlier request says what is wrong with it as the status page does:
    a symbol missing or extra (and how many there are), a character no code has, a typing mistake."""
    from flask_babel import force_locale

    from intake.web.fields import code_problem

    from ..actors import Defender
    from ..web.test_status_page import PROBLEMS, mistypes

    code = Defender(url=server["url"]).submit(lang, "feedback", "WHY")
    with app.test_request_context(), force_locale(lang):
        said = {mistake: code_problem(*PROBLEMS[mistake]) for mistake in PROBLEMS}
    for javascript in (False, True):
        context = chromium.new_context(java_script_enabled=javascript)
        page = context.new_page()
        for mistake, typed in mistypes(code).items():
            page.goto(f"{server['url']}/{lang}/feedback")
            fill(page, filled("feedback", "WHY") | {"reference_code": typed})
            page.locator("form[data-seal] button[type=submit]").click()
            told = page.locator("#reference_code-js-error" if javascript else "#reference_code-error")
            told.wait_for()
            assert told.inner_text() == said[mistake], (mistake, javascript)
            assert page.input_value("#reference_code") == typed
        context.close()


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
def test_an_answer_at_its_limit_in_astral_letters_is_kept_whole(
    chromium, server, tmp_path, keyring, javascript
):
    adlam = (
        "\U0001e900\U0001e901\U0001e902\U0001e903" * 50
    )  # 200 letters, the field's limit: 400 UTF-16 units
    context = chromium.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(f"{server['url']}/en/feedback")
    fill(page, filled("feedback", "ADLAM") | {"contact_details": adlam})
    with page.expect_navigation():
        page.locator("form[data-seal] button[type=submit]").click()
    code = shown_code(page)
    context.close()
    request = request_of(code, tmp_path, server["env"], keyring)
    assert request["request"]["fields"]["contact_details"] == adlam


def test_arabic_renders_right_to_left(chromium, server):
    page = chromium.new_page()
    page.goto(f"{server['url']}/ar/individual")
    assert page.evaluate("getComputedStyle(document.documentElement).direction") == "rtl"
    label = page.locator('label[for="defender_name"]').bounding_box()
    field = page.locator("#defender_name").bounding_box()
    assert label["x"] + label["width"] == pytest.approx(field["x"] + field["width"], abs=2)  # aligned right
    page.close()


def test_javascript_checks_before_sealing_in_the_page_language(chromium, server):
    page = chromium.new_page()
    posted = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.goto(f"{server['url']}/ru/feedback")
    page.fill("#message", "x" * 10)
    page.locator("form[data-seal] button[type=submit]").click()
    summary = page.locator(".summary[role=alert]")
    summary.wait_for()  # once the form's checks have come (test_the_forms_checks_are_fetched...)
    required = json.loads(page.locator("form[data-seal]").get_attribute("data-messages"))["required"]
    assert required in summary.inner_text()
    assert required != "Please answer this question."
    assert posted == [] and page.input_value("#message") == "x" * 10
    page.close()


def test_a_sealing_failure_sends_nothing_and_offers_the_server(chromium, server, tmp_path, keyring):
    page = chromium.new_page()
    posted = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    page.goto(f"{server['url']}/es/feedback")
    fill(page, filled("feedback", "FALLBACK"))
    page.evaluate("document.querySelector('form[data-seal]').dataset.keyId = '00'.repeat(8)")
    page.locator("form[data-seal] button[type=submit]").click()
    alert = page.locator(".summary[role=alert]")
    alert.locator("button").wait_for()
    assert posted == []
    with page.expect_navigation():
        alert.locator("button").click()
    code = shown_code(page)
    assert "FALLBACK" in urllib.parse.unquote_plus(posted[-1])  # feedback has no files: urlencoded
    request = request_of(code, tmp_path, server["env"], keyring)
    assert request["origin"] == "server"
    page.close()


def test_the_forms_checks_are_fetched_pinned_and_asked_for_again(chromium, server, tmp_path, keyring):
    """The checks seal.js applies come in a file of their own: one that does not come, or comes
    changed (its integrity pinned by the page), sends nothing and says so; the next try asks again."""
    page = chromium.new_page()
    posted = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    page.route("**/checks/*", lambda route: route.abort())
    page.goto(f"{server['url']}/fr/individual")
    fill(page, filled("individual", "CHECKS"))
    page.locator("form[data-seal] button[type=submit]").click()
    alert = page.locator(".summary[role=alert]")
    alert.locator("button").wait_for()
    assert posted == []
    page.unroute("**/checks/*")
    lenient = json.dumps({"rules": [], "lookalikes": {}, "digits": []})  # checks nothing
    page.route("**/checks/*", lambda route: route.fulfill(body=lenient, content_type="application/json"))
    page.locator("form[data-seal] button[type=submit]").click()
    alert.locator("button").wait_for()
    assert posted == []
    page.unroute("**/checks/*")
    with page.expect_navigation():
        page.locator("form[data-seal] button[type=submit]").click()
    code = shown_code(page)
    page.close()
    request = request_of(code, tmp_path, server["env"], keyring)
    assert request["origin"] == "browser" and request["request"]["fields"]["country"] == "UA"


def test_numbers_in_any_script_the_server_reads_are_sealed_as_it_reads_them(
    chromium, server, tmp_path, keyring
):
    page = chromium.new_page()
    page.goto(f"{server['url']}/en/individual")
    fill(page, filled("individual", "DIGITS") | {"amount_eur": "३,०००"})  # Devanagari: 3,000
    with page.expect_navigation(timeout=20_000):
        page.locator("form[data-seal] button[type=submit]").click()
    code = shown_code(page)
    page.close()
    request = request_of(code, tmp_path, server["env"], keyring)
    assert request["origin"] == "browser" and request["request"]["fields"]["amount_eur"] == "3000"


def test_a_lone_surrogate_is_sealed_as_the_browser_would_post_it(chromium, server, tmp_path, keyring):
    page = chromium.new_page()
    page.goto(f"{server['url']}/en/feedback")
    fill(page, filled("feedback", "SURROGATE"))
    # Pasted text cut in the middle of an emoji: a form post carries U+FFFD in its place.
    page.evaluate("document.querySelector('#message').value = 'cut \\ud83d here SURROGATE'")
    with page.expect_navigation():
        page.locator("form[data-seal] button[type=submit]").click()
    code = shown_code(page)
    page.close()
    request = request_of(code, tmp_path, server["env"], keyring)
    assert (
        request["origin"] == "browser"
        and request["request"]["fields"]["message"] == "cut \ufffd here SURROGATE"
    )


def test_the_script_posts_the_envelope_under_the_name_the_page_gives(chromium, server):
    page = chromium.new_page()
    posted = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    page.goto(f"{server['url']}/en/feedback")
    fill(page, filled("feedback", "RENAMED"))
    page.evaluate("document.querySelector('form[data-seal]').dataset.envelopeField = 'renamed_envelope'")
    with page.expect_navigation():
        page.locator("form[data-seal] button[type=submit]").click()
    assert field_names(posted[-1]) == {"csrf_token", "renamed_envelope"}  # the server refuses it: no envelope
    page.close()


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
def test_attachments_round_trip_from_the_browser(chromium, server, site, tmp_path, keyring, javascript):
    from intake.formats.stream import CHUNK

    marker = f"FILEMARK{secrets.token_hex(6)}".encode()
    sizes = [0, 1, CHUNK, CHUNK + 1, 50_000_000 - 3 * CHUNK - 2]  # 50 MB in all, the default limit
    paths = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"evidence-{number}.bin"
        path.write_bytes(
            (marker + os.urandom(4096)) * (size // (len(marker) + 4096))
            + os.urandom(size % (len(marker) + 4096))
        )
        paths.append(path)
    context = chromium.new_context(java_script_enabled=javascript)
    page = context.new_page()
    posted = []
    page.on("request", lambda r: posted.append(r.post_data_buffer or b"") if r.method == "POST" else None)
    page.goto(f"{server['url']}/ar/organisation")
    fill(page, filled("organisation", "UP"))
    page.set_input_files("#attachments", [str(p) for p in paths])
    with page.expect_navigation(timeout=120_000):
        page.locator("form[data-seal] button[type=submit]").click()
    code = shown_code(page)
    context.close()
    if javascript:
        assert marker not in posted[-1]  # the files left the browser sealed
    for path, data in everything_under(site["INTAKE_DATA_DIR"], server["tmp"]):
        assert marker not in data, path

    request = request_of(code, tmp_path, server["env"], keyring)
    assert request["origin"] == ("browser" if javascript else "server")
    folder = tmp_path / "read" / "requests" / request["item"]
    for number, path in enumerate(paths, start=1):
        assert (folder / f"attachment-{number}.bin").read_bytes() == path.read_bytes()
    assert [a["size"] for a in request["attachments"]] == sizes


def test_an_interrupted_upload_leaves_nothing(server, site):
    import socket
    import time

    host, port = server["url"].removeprefix("http://").split(":")
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="x.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(
            f"POST /en/individual HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}"
            f"\r\nContent-Length: 20000000\r\n\r\n".encode()
            + head
            + b"CUTMARK" * 300_000
        )
        time.sleep(0.5)
    time.sleep(1)
    leftovers = [
        p for p, _ in everything_under(site["INTAKE_DATA_DIR"]) if p.endswith((".part", ".att", ".item"))
    ]
    assert leftovers == []
    for _path, data in everything_under(site["INTAKE_DATA_DIR"], server["tmp"]):
        assert b"CUTMARK" not in data


def send_from_the_browser(page, url: str, lang: str, form: str = "feedback", marker: str = "PHONE") -> str:
    """Fill a form in and send it as a defender would; return the reference code on the receipt."""
    page.goto(f"{url}/{lang}/{form}")
    fill(page, filled(form, marker))
    with page.expect_navigation():
        page.locator("form[data-seal] button[type=submit]").click()
    return shown_code(page)


# Where each line of an element's text lies, and the width of the page it must fit in.
LINES = """selector => [...document.querySelectorAll(selector)].filter(e => e.offsetParent).map(e => {
  const range = document.createRange();
  range.selectNodeContents(e);
  const rects = [...range.getClientRects()];
  return {lines: new Set(rects.map(r => Math.round(r.top))).size, text: e.textContent,
          left: Math.min(...rects.map(r => r.left)), right: Math.max(...rects.map(r => r.right)),
          width: document.documentElement.clientWidth};
})"""


@pytest.mark.parametrize("lang", LANGS)
def test_the_reference_code_is_one_line_on_a_phone(chromium, server, lang):
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 800})
    page = context.new_page()
    code = send_from_the_browser(page, server["url"], lang)
    for width in (320, 390, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        shown = page.evaluate(LINES, "p.code bdi")
        assert shown, width
        for where in shown:
            assert where["text"] == code and where["lines"] == 1, (width, where)
            assert where["left"] >= 0 and where["right"] <= where["width"], (width, where)
    # The example of a code in the status page's help does not break either.
    page.goto(f"{server['url']}/{lang}/status")
    for width in (320, 390):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate(EXAMPLE_LINES, "#reference_code-help") == 1, width
    context.close()


# How many lines the example code in an element's text takes.
EXAMPLE_LINES = """selector => {
  const node = document.querySelector(selector).firstChild;
  const start = node.data.indexOf("XXXXX");
  const range = document.createRange();
  range.setStart(node, start);
  range.setEnd(node, start + 23);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
}"""


@pytest.mark.parametrize("lang", LANGS)
def test_switching_language_on_the_receipt_keeps_the_code(chromium, server, lang):
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 800})
    page = context.new_page()
    code = send_from_the_browser(page, server["url"], lang, "individual", "SWITCH")
    receipt_url = page.url
    for other in LANGS:
        page.locator(f'header .languages a[lang="{other}"]').click()
        shown = page.locator(f'section[lang="{other}"]')
        assert shown.is_visible() and shown.locator("p.code bdi").inner_text() == code, other
        assert page.locator("section.receipt:visible").count() == (1 if other == lang else 2)
        assert page.url.split("#")[0] == receipt_url.split("#")[0] and code not in page.url
        if other != lang:  # the chosen language is where the page now is
            assert -1 <= shown.bounding_box()["y"] < 50, other
    context.close()


# How tall each kind of text's letters are drawn, as Chromium renders them in the element's own
# font: the mean height above the line of `letters`. For Latin (and Cyrillic) text that is the
# x-height; Arabic's is the height of letters with nothing above or below the line: the teeth of
# medial seen, the bowls of medial meem, sad and heh.
LATIN, ARABIC = ["x"], ["ـسـ", "ـمـ", "ص", "ه"]
LETTER_HEIGHT = """([selector, letters]) => {
  const el = document.querySelector(selector), style = getComputedStyle(el);
  const canvas = document.createElement("canvas").getContext("2d");
  // Drawn ten times larger, as the heights come in whole pixels, then brought back.
  canvas.font = [style.fontStyle, style.fontWeight, parseFloat(style.fontSize) * 10 + "px", style.fontFamily].join(" ");
  return letters.reduce((sum, l) => sum + canvas.measureText(l).actualBoundingBoxAscent, 0) / letters.length / 10;
}"""
ROLES = ["main > p", "h1", "h2", "label", "legend", ".help", ".choices label", ".note", "input[type=text]",
         "textarea", "select", "button[type=submit]", "header a", "footer a", ".summary li a", ".error"]  # fmt: skip
# Arabic letters reach 0.73 of the Latin x-height in Noto Sans Arabic beside Noto Sans, a pair drawn
# to be read together; in DejaVu Sans (Debian's default, Arabic included) 0.64: about 15% smaller.
READS_THE_SAME = 0.72


def letter_heights(page, url: str, lang: str, letters: list[str]) -> dict[str, float]:
    page.goto(f"{url}/{lang}/individual")
    page.locator("form[data-seal] button[type=submit]").click()  # its errors too
    page.wait_for_load_state()
    return {role: page.evaluate(LETTER_HEIGHT, [role, letters]) for role in ROLES}


def test_arabic_letters_are_drawn_as_large_as_latin_ones_read(chromium, server):
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 800})
    page = context.new_page()
    latin = letter_heights(page, server["url"], "en", LATIN)
    arabic = letter_heights(page, server["url"], "ar", ARABIC)
    for role in ROLES:
        assert READS_THE_SAME <= arabic[role] / latin[role] <= 1, (role, arabic[role], latin[role])
    # Arabic among other languages, and other languages among Arabic: the language links, and
    # the receipt, which holds every language.
    for lang in ("ru", "ar"):
        send_from_the_browser(page, server["url"], lang, "feedback", "SIZES")
        for selector in ('.languages a[lang="{}"]', "section[lang={}] h1", "section[lang={}] p"):
            drawn = page.evaluate(LETTER_HEIGHT, [selector.format("ar"), ARABIC])
            for other in ("en", "ru"):
                ratio = drawn / page.evaluate(LETTER_HEIGHT, [selector.format(other), LATIN])
                assert READS_THE_SAME <= ratio <= 1, (lang, selector, other, ratio)
    context.close()


HELP = """() => [...document.querySelectorAll(".help")].map(help => {
  const style = getComputedStyle(help), around = getComputedStyle(help.closest("main"));
  return {text: help.textContent.trim().slice(0, 30), size: parseFloat(style.fontSize),
          body: parseFloat(around.fontSize), colour: style.color};
})"""


@pytest.mark.parametrize("lang", LANGS)
def test_help_text_is_easy_to_read_on_a_phone(chromium, server, lang):
    from .test_accessibility import contrast

    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 800})
    page = context.new_page()
    for form in FORMS:
        page.goto(f"{server['url']}/{lang}/{form}")
        for shown in page.evaluate(HELP):
            assert shown["size"] >= shown["body"] >= 16, shown  # as large as the text around it
            assert contrast(shown["colour"], "rgb(255, 255, 255)") >= 7, shown  # WCAG's enhanced contrast
    context.close()
