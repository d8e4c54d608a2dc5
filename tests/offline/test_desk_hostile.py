"""A hostile bundle's content renders inert in the desk and in the static pages: checked in Chromium's DOM."""

import io
import os
import re

import pytest

from intake.formats import export_bundle, refcode, stream

from ..conftest import ARTIFACTS, make_item
from .helpers import decide_in_desk

# Script, markup, URLs, style and direction tricks; each field of each request gets some.
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '"><img src=x onerror="window.__pwned = 2">',
    "'><svg onload=window.__pwned=3>",
    "javascript:window.__pwned=4",
    "</style><style>body { display: none }</style>",
    '<a href="javascript:window.__pwned=5">open</a>',
    '<iframe srcdoc="<script>parent.__pwned=6</script>"></iframe>',
    '<link rel="stylesheet" href="data:text/css,body{display:none}">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=7">',
    'x</dd></dl><form action="http://evil.example/"><button>Save</button></form>',
    '<base href="http://evil.example/">',
    '<div style="position:fixed;inset:0;background:red">covered</div>',
    "pay 100 to \u202e0001\u202c and \u2066isolated\u2069 \u200bhidden",
    "{{7*7}} ${7*7} %(x)s",
]
# What may appear in the pages: the desk's and the static pages' own elements, nothing else.
OUR_ELEMENTS = {
    *("html", "head", "meta", "title", "link", "style", "body", "header", "nav", "main", "form", "label"),
    *("select", "option", "input", "button", "textarea", "fieldset", "legend", "details", "summary"),
    *("h1", "h2", "h3", "h4", "p", "span", "div", "b", "br", "code", "bdi", "a", "article", "section"),
    *("table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd", "ul", "ol", "li"),
}
ALL_ELEMENTS = "[...document.querySelectorAll('*')].map(e => e.localName)"
BAD_ATTRIBUTES = (
    "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
    ".filter(n => n.startsWith('on') || n === 'style' || n === 'srcdoc' || n === 'src')"
)


def hostile(n: int) -> str:
    return HOSTILE[n % len(HOSTILE)] + " " + HOSTILE[(n + 5) % len(HOSTILE)]


def sealed_file(data: bytes) -> tuple[bytes, bytes]:
    out = io.BytesIO()
    sealer = stream.Sealer(out)
    sealer.write(data)
    sealer.finish()
    return sealer.key, out.getvalue()


def hostile_bundle(path, generation) -> str:
    """A bundle a compromised server could craft: every field, choice, name and file name hostile."""
    from intake.offline import questions

    found = questions.load()
    fields = {}
    for n, (_, section) in enumerate(found.sections("individual")):
        for m, question in enumerate(section):
            value = hostile(n * 7 + m)
            fields[question.name] = [value, hostile(m)] if question.kind == "choices" else value
    fields["urgency"] = "critical"  # the one value read for sorting; anything else counts as normal
    fields["<script>window.__pwned=8</script>"] = hostile(3)
    fields["\u202eeman_redneS"] = hostile(4)
    files = [
        (hostile(1) + ".jpg", "image/jpeg", b"\xff\xd8\xff<script>window.__pwned=9</script>"),
        ("invoice\u202egpj.exe", 'text/html"><script>window.__pwned=10</script>', b"MZ"),
        ("javascript:window.__pwned=11//.png", "image/svg+xml", b"<svg onload=alert(1)>"),
    ]
    entries, metas = [], []
    for name, kind, data in files:
        key, sealed = sealed_file(data)
        metas.append({"name": name, "type": kind, "size": len(data), "key": key.hex()})
        entries.append(sealed)
    code, request = make_item(
        {"form": "individual", "lang": "ar", "fields": fields, "attachments": metas}, generation
    )
    feedback = {
        "form": "feedback",
        "lang": "ru",
        "fields": {
            "kind": hostile(2),
            "reference_code": hostile(5),
            "message": hostile(6),
            "contact_language": hostile(7),
        },
    }
    followup = {
        "form": "followup",
        "lang": "fr",
        "fields": {
            "reference_code": refcode.display(code),
            "message": hostile(8),
            "contact_details": hostile(9),
        },
    }
    items = [
        (export_bundle.TYPE_ITEM, os.urandom(16), request),
        *[(export_bundle.TYPE_ATTACHMENT, None, sealed) for sealed in entries],
        (export_bundle.TYPE_ITEM, os.urandom(16), make_item(feedback, generation)[1]),
        (export_bundle.TYPE_ITEM, os.urandom(16), make_item(followup, generation, day="2026-11-22")[1]),
    ]
    first = items[0][1]
    with open(path, "wb") as f:
        export_bundle.write(f, ((kind, ident or first, data) for kind, ident, data in items))
    return refcode.display(code)


def check_inert(page, where: str) -> None:
    """No script ran, no element or attribute came from the content, the content is there as text."""
    assert page.evaluate("window.__pwned") is None, f"{where}: a script ran"
    elements = set(page.evaluate(ALL_ELEMENTS))
    assert elements <= OUR_ELEMENTS, f"{where}: elements from the content: {elements - OUR_ELEMENTS}"
    assert page.evaluate(BAD_ATTRIBUTES) == [], where
    hrefs = page.evaluate(
        "[...document.querySelectorAll('[href],[action]')].map(e => e.getAttribute('href') || e.getAttribute('action'))"
    )
    assert not [h for h in hrefs if re.match(r"\s*(javascript|data|https?):", h, re.I)], where
    assert page.evaluate("document.styleSheets.length") == 1, where
    assert page.evaluate("getComputedStyle(document.body).display") != "none", where
    text = page.evaluate("document.body.innerText")
    assert "\u202e" not in text and "\u2066" not in text, f"{where}: a direction override is live"
    assert page.evaluate("document.title").find("<") == -1


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_a_hostile_bundle_renders_inert_in_the_desk_and_the_static_pages(
    chromium, secretariat, generation, tmp_path, javascript
):
    code = hostile_bundle(tmp_path / "hostile.bin", generation)
    out = tmp_path / "requests"
    result = secretariat.run("decrypt", tmp_path / "hostile.bin", "--out", out)
    assert "3 new requests" in result.stdout, result.stderr
    items = sorted(request["item"] for request in secretariat.requests(out))
    context = chromium.new_context(java_script_enabled=javascript)
    page = context.new_page()
    with secretariat.desk(out) as desk:
        item = next(i for i in items if (out / "requests" / i / "attachment-2.bin").exists())
        decide_in_desk(desk, item, "more_info", hostile(0))  # the secretariat's own words are escaped too
        query = "&".join(
            f"{name}={HOSTILE[1]}" for name in ("status", "form", "urgency", "country", "language", "text")
        )
        for path in ["", f"?{query}", f"case/{item}", *(f"case/{i}" for i in items), "answer"]:
            page.goto(desk.url + path)
            check_inert(page, f"desk {path}")
        page.goto(desk.url + f"case/{item}")
        text = page.evaluate("document.body.innerText")
        assert "<script>window.__pwned = 1</script>" in text and "javascript:window.__pwned=4" in text
        assert "[U+202E]" in text and "invoice[U+202E]gpj.exe" in text and "[U+200B]" in text
        assert (
            "Answers to questions this form does not ask" in text
            and "<script>window.__pwned=8</script>" in text
        )
        assert "(not one of the form's choices)" in text and "(not a country the form offers)" in text
        assert code in text
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"desk-hostile-{'js' if javascript else 'nojs'}.png", full_page=True)
        page.goto(desk.url)
        page.fill("#f-text", HOSTILE[0])
        with page.expect_navigation():
            page.click("form.filters button")
        check_inert(page, "desk search")
    pages = {secretariat.page_of(out, i)[0] for i in items}
    assert len(pages) == 1  # three requests, two cases, one page
    for where in [out / "index.html", *pages]:
        page.goto(where.as_uri())
        check_inert(page, str(where.relative_to(tmp_path)))
    page.goto(secretariat.page_of(out, item)[0].as_uri() + f"#item-{item}")
    assert "<script>window.__pwned = 1</script>" in page.evaluate("document.body.innerText")
    context.close()
