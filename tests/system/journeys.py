"""Every page and state a defender can meet, walked in real Chromium as a defender gets there: the
accessibility checks and the screenshots run at each one (test_accessibility.py)."""

from intake.formats import refcode
from intake.formats.return_bundle import STATUSES

from ..conftest import filled
from ..web.test_status_page import decide, mistypes
from .test_browser import FORMS, fill
from .test_status_page import ASKED

PAGES = [("", "landing"), ("individual", "individual"), ("organisation", "organisation"),
         ("feedback", "feedback"), ("status", "status"), ("other-support", "other-support")]  # fmt: skip
SEND = "form[data-seal] button[type=submit]"
CHECK = "form[data-lookup] button[type=submit]"
EVIDENCE = {"name": "evidence.txt", "mimeType": "text/plain", "buffer": b"chosen, then the form came back"}


def decided(defender, site, generation, lang: str) -> dict[str, str]:
    """A reference code for every status, each decided by the secretariat with a message in the
    defender's language ("received" is where every request starts)."""
    codes = {status: defender.submit(lang, "feedback", "A11YSTATUS") for status in STATUSES}
    first, *others = [status for status in STATUSES if status != "received"]
    more = {codes[status]: (status, ASKED[lang]) for status in others}
    decide(site, generation, codes[first], first, ASKED[lang], **more)
    return codes


def send(page, button: str = SEND) -> None:
    """Press a form's button, without JavaScript: the server answers with a new page."""
    with page.expect_navigation():
        page.locator(button).last.click()


def without_javascript(page, url: str, lang: str, codes: dict[str, str]):
    """Every page and state as the server renders it; yields each state's name once it is shown."""

    def go(path: str) -> None:
        page.goto(f"{url}/{lang}/{path}")

    def look_up(typed: str) -> None:
        go("status")
        page.fill("#reference_code", typed)
        send(page, CHECK)

    page.goto(f"{url}/")
    yield "choose-language"
    for path, name in PAGES:
        go(path)
        yield name
    for form in FORMS:
        go(form)
        if form != "feedback":  # a file chosen, then the form came back: it says the file was not kept
            page.set_input_files("#attachments", files=[EVIDENCE])
        send(page)
        yield f"{form}-errors"
    go("feedback")
    fill(page, filled("feedback", "A11YEXPIRED"))
    page.context.clear_cookies()  # the browser's data for the site deleted: the form had expired
    send(page)
    yield "feedback-expired"
    for form in FORMS:
        go(form)
        fill(page, filled(form, "A11YRECEIPT"))
        send(page)
        yield f"{form}-receipt"
    other = "ar" if lang != "ar" else "en"
    page.locator(f'header .languages a[lang="{other}"]').click()
    yield f"receipt-in-{other}"
    look_up("")
    yield "status-empty"
    for mistake, typed in mistypes(codes["received"]).items():
        look_up(typed)
        yield f"status-{mistake}"
    look_up(refcode.display(refcode.make()))
    yield "status-not-found"
    for status, code in codes.items():
        look_up(code)
        yield f"status-{status.replace('_', '-')}"
    look_up(codes["more_info"])
    send(page)  # the follow-up, empty
    yield "followup-errors"
    page.fill("#message", "A11YFOLLOWUP")
    send(page)
    yield "followup-receipt"
    go("no-such-page")
    yield "not-found"


def with_javascript(page, url: str, lang: str, codes: dict[str, str]):
    """Every state the page's scripts change: their own checks, their failures, what they put in
    the page from an answer."""

    def go(path: str) -> None:
        page.goto(f"{url}/{lang}/{path}")

    def look_up(typed: str, shown: str) -> None:
        go("status")
        page.fill("#reference_code", typed)
        page.locator(CHECK).click()
        page.locator(shown).first.wait_for()

    for form in FORMS:
        go(form)
        page.locator(SEND).click()
        page.locator(".summary").wait_for()
        yield f"{form}-checked"
    go("feedback")
    fill(page, filled("feedback", "A11YFAILED"))
    page.evaluate("document.querySelector('form[data-seal]').dataset.keyId = '00'.repeat(8)")
    page.locator(SEND).click()
    page.locator(".summary button").wait_for()
    yield "feedback-not-encrypted"
    look_up("", "#reference_code-error")
    yield "status-empty"
    for mistake, typed in mistypes(codes["received"]).items():
        look_up(typed, "#reference_code-error")
        yield f"status-{mistake}"
    look_up(refcode.display(refcode.make()), ".result")
    yield "status-not-found"
    for status, code in codes.items():
        look_up(code, ".result")
        if status != "received":
            page.locator(".result .message", has_text=ASKED[lang]).wait_for()  # opened in the browser
        yield f"status-{status.replace('_', '-')}"
    look_up(codes["more_info"], ".result")
    page.locator(".result .message", has_text=ASKED[lang]).wait_for()
    page.locator("form[data-kind=followup] button[type=submit]").click()  # empty
    page.locator(".summary").wait_for()
    yield "followup-checked"
