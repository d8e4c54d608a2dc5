"""The browser's validators agree with the server's on generated input: digits, lengths, codes.

Hypothesis writes the inputs in Python; one Node process (tests/js/validators_node.js) runs
seal-format.js as the page loads it and checks them as the page does before sealing; the server's
own fields (the real forms' StringFields, with their filters and validators) check the same
input. Both must refuse the same answers and keep the same cleaned value of every answer.

Characters that this Python's Unicode data does not know yet are left out of generated text:
a browser with newer Unicode data normalises them with its own tables (NFC, NFKC, upper case),
which a page cannot change. Digits are exact for every code point: the page gives the browser
the server's own table of them.
"""

import json
import shutil
import struct
import subprocess
import sys
import unicodedata
from types import SimpleNamespace

import pytest
import wtforms
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms.validators import ValidationError

from intake.formats import envelope, refcode, stream
from intake.formats.payload import check_payload
from intake.server.limits import Quota
from intake.web import checks, fields, uploads
from intake.web.forms import FeedbackForm
from intake.web.support_forms import IndividualForm, OrganisationForm

from ..conftest import ROOT

NODE = shutil.which("node")
ENOUGH = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Page:
    """seal-format.js in one Node process, loaded as the page loads it; asked many questions."""

    def __init__(self, script: str = "validators_node.js"):
        self.process = subprocess.Popen(
            [NODE, ROOT / "tests" / "js" / script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def ask(self, op: str, **request):
        self.process.stdin.write(json.dumps({"op": op, **request}) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the Node process ended (see its error above)"
        return json.loads(answer)

    def close(self):
        self.process.stdin.close()  # Node ends when its input does
        self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def page():
    if NODE is None:
        pytest.fail("node is required for the browser-format tests (apt-get install nodejs)")
    page = Page()
    yield page
    page.close()


def probe(**unbound):
    """A plain WTForms form holding the real forms' fields: the server's filters and validators."""
    return type("Probe", (wtforms.Form,), dict(unbound))


NUMBERS = probe(amount_eur=IndividualForm.amount_eur, members_at_risk=OrganisationForm.members_at_risk)
LENGTHS = probe(message=FeedbackForm.message, contact_details=FeedbackForm.contact_details)
CODES = probe(reference_code=FeedbackForm.reference_code)
# As the page gives them to the script.
TABLES = {"lookalikes": refcode.LOOKALIKES, "digits": checks.digits()}


def server_reads(form_class, raw: dict) -> dict:
    """What the server makes of the answers: which fields it refuses, and every field's value."""
    form = form_class(formdata=MultiDict(raw))
    form.validate()
    return {"errors": sorted(form.errors), "answers": form.data}


def browser_reads(page, form_class, raw: dict) -> dict:
    """What the page makes of the same answers before sealing, with the rules the page is given."""
    rules = [fields.field_rule(field) for field in form_class()]
    [result] = page.ask("check", rules=rules, tables=TABLES, cases=[raw])
    return {"errors": sorted(result["errors"]), "answers": result["answers"]}


# Numbers as people write them: digits of one script or of several, groups separated by what
# WholeNumber drops (and by what it does not), signs, leading zeros, values around the limits.
DIGITS = st.characters(categories=["Nd"])
SEPARATORS = " ,.'\u066c\u00a0\u202f\u2009\u3000\t\n\x85_"
NOT_SEPARATORS = "\u066b\u2019\u2212-+/\u200b\ufeff\u0301x\U0001d7ce"


def zero_of(digit: str) -> int:
    return ord(digit) - unicodedata.decimal(digit)


@st.composite
def written_numbers(draw):
    value = draw(st.integers(0, 1_100_000) | st.integers(0, 10**20) | st.sampled_from([100_000, 1_000_000]))
    written = "0" * draw(st.integers(0, 2)) + str(value)
    one_script = zero_of(draw(DIGITS)) if draw(st.booleans()) else None
    out = []
    for d in written:
        out.append(chr((one_script if one_script is not None else zero_of(draw(DIGITS))) + int(d)))
        if draw(st.integers(0, 3)) == 0:  # mostly what people put between groups
            out.append(draw(st.sampled_from(SEPARATORS * 3 + NOT_SEPARATORS)))
    return draw(st.sampled_from(["", "", "+", "-", "\u2212", " "])) + "".join(out)


# Kawi digits came with Unicode 15: a browser with newer Unicode data than the server's Python
# knows them, and must refuse them all the same.
KAWI = "\U00011f53\U00011f50\U00011f50\U00011f50"
NUMBER_TEXT = written_numbers() | st.text(
    DIGITS | st.sampled_from(SEPARATORS + NOT_SEPARATORS + "+-"), max_size=12
)


@settings(ENOUGH, max_examples=1000)
@given(NUMBER_TEXT | st.text(max_size=12))
@example("१२,३४५")  # Devanagari
@example("৩০০০")  # Bengali
@example("๑๐๐๐๐๐")  # Thai
@example("３０００")  # fullwidth
@example("𝟑𝟎𝟎𝟎")  # mathematical bold
@example("1_000")  # int() reads single underscores between digits
@example("-0")
@example("1\x852")  # NEL: whitespace to Python's \s, not to JavaScript's
@example("1\ufeff2")  # a BOM: whitespace to JavaScript's \s, not to Python's
@example(KAWI)
@example("0" * 4301)  # int() refuses more than 4,300 digits
def test_numbers_are_read_alike(page, text):
    raw = {"amount_eur": text, "members_at_risk": text}
    assert browser_reads(page, NUMBERS, raw) == server_reads(NUMBERS, raw)


@pytest.mark.slow
def test_every_code_point_is_read_alike_in_numbers_and_cleaning(page):
    """Exhaustive where a sample could miss one character: every digit of every script, every
    separator, every space and control character that cleaning trims or drops."""
    [rule] = [fields.field_rule(f) for f in probe(amount_eur=IndividualForm.amount_eur)()]
    browser = page.ask("scalars", rule=rule, tables=TABLES)
    number = fields.WholeNumber(rule["number"])
    numbers, cleaned = {}, {}
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:
            continue
        c = chr(point)
        field = SimpleNamespace(data=fields.clean("1" + c + "2"))
        try:
            number(None, field)
            numbers[str(point)] = field.data
        except ValidationError:
            pass
        text = c + "a" + c + "b" + c
        if unicodedata.category(c) != "Cn" and fields.clean(text) != text:
            cleaned[str(point)] = fields.clean(text)
    assert browser["numbers"] == numbers
    known = {p: v for p, v in browser["cleaned"].items() if unicodedata.category(chr(int(p))) != "Cn"}
    assert known == cleaned


# Text: what cleaning changes (line ends, controls, spaces at either end, NFC) and what UTF-16
# counts differently from Python (astral characters), at lengths around the limits.
KNOWN = st.characters(exclude_categories=("Cs", "Cn"))
PIECES = (
    st.sampled_from(
        [
            "a",
            "\U0001e900",
            "𝄞",
            "e\u0301",
            "e\u0323\u0302",
            "\u1100\u1161\u11a8",
            "\r\n",
            "\r",
            "\n",
            " ",
            "\u3000",
            "\x85",
            "\x00",
            "\x1f",
            "\u200b",
            "\ufeff",
            "\u0301",
            "ệ",
            "\U0002f800",
        ]
    )
    | KNOWN
)
TEXT = st.lists(PIECES, max_size=30).map("".join)


@st.composite
def around(draw, limit):
    """Text whose cleaned length lands near `limit`: a piece repeated, with text either side."""
    piece = draw(PIECES)
    return draw(TEXT) + piece * draw(st.integers(max(0, limit - 12), limit + 3)) + draw(TEXT)


@ENOUGH
@given(st.one_of(TEXT, around(200), around(5000)))
@example("\U0001e900" * 200)  # Adlam: 200 letters, 400 UTF-16 units
@example("\U0001e900" * 201)
@example("e\u0301" * 200)  # 400 code points typed, 200 after NFC
@example(" " * 10 + "x" * 200 + "\r\n" * 10)
def test_lengths_and_cleaning_are_alike(page, text):
    raw = {"message": text, "contact_details": text}
    assert browser_reads(page, LENGTHS, raw) == server_reads(LENGTHS, raw)
    [browser] = page.ask("clean", cases=[text])
    assert browser == {"cleaned": fields.clean(text), "length": len(fields.clean(text))}


# Reference codes as people type them: any case, look-alike letters and digits from other
# scripts, compatibility forms, separators and invisible marks, mistakes the check catches.
LOOKALIKE = {}
for _typed, _symbol in refcode.LOOKALIKES.items():
    LOOKALIKE.setdefault(_symbol, []).append(_typed)
SEPARATING = [
    " ",
    "-",
    "\u2010",
    "\u2011",
    "\u2013",
    "\u2014",
    "\u2212",
    "\u00ad",
    "\u200b",
    "\u200f",
    "\u2066",
    "\u2069",
    "\u3000",
    "_",
    "\t",
    "\n",
    ".",
    "/",
]


SAMPLE_CODE = "0123456789ABCDEFGHJ" + refcode.check_symbol("0123456789ABCDEFGHJ")


@st.composite
def typed_codes(draw):
    body = draw(st.text(refcode.ALPHABET, min_size=refcode.RANDOM_SYMBOLS, max_size=refcode.RANDOM_SYMBOLS))
    symbols = list(body + refcode.check_symbol(body))
    mistake = draw(st.sampled_from(["none", "none", "change", "swap", "drop", "add"]))
    at = draw(st.integers(0, len(symbols) - 2))
    if mistake == "change":
        symbols[at] = draw(st.sampled_from(refcode.ALPHABET))
    elif mistake == "swap":
        symbols[at], symbols[at + 1] = symbols[at + 1], symbols[at]
    elif mistake == "drop":
        del symbols[at]
    elif mistake == "add":
        symbols.insert(at, draw(st.sampled_from(refcode.ALPHABET)))
    out = []
    for i, symbol in enumerate(symbols):
        forms = [symbol, symbol.lower(), *LOOKALIKE.get(symbol, [])]
        if symbol.isascii() and symbol.isalnum():
            forms.append(chr(ord(symbol) + 0xFEE0))  # fullwidth
        out.append(draw(st.sampled_from(forms)))
        if i % refcode.GROUP == refcode.GROUP - 1 or draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from(["", *SEPARATING])))
    return "".join(out)


# Invisible marks and separators in front of a code, up to and past refcode.normalise's limit.
PADDED_CODES = st.builds(
    lambda mark, n, code: mark * n + code,
    st.sampled_from(["\u200b", " ", "-", "\u2066"]),
    st.integers(170, 190),
    typed_codes(),
)


@ENOUGH
@given(typed_codes() | PADDED_CODES | st.text(KNOWN, max_size=30))
@example("\u200b" * 181 + SAMPLE_CODE)  # over refcode.normalise's 200 characters before reading
@example("ǅ")
def test_reference_codes_are_read_alike(page, text):
    raw = {"reference_code": text}
    assert browser_reads(page, CODES, raw) == server_reads(CODES, raw)


@pytest.mark.parametrize("lang", ["en", "ar", "ru"])
def test_countries_are_read_alike(app, page, lang):
    """A country is sent as its name in the page's language (fields.CountryList); both sides keep
    its code, read a code as itself, and refuse anything else."""
    from flask import g

    names = fields.country_codes(lang)
    others = [*fields.country_codes("fr"), "", " ", "Atlantis", "constructor", "__proto__", "ua", "UA "]
    with app.test_request_context(f"/{lang}/individual"):
        g.lang = lang
        probe = type("Probe", (wtforms.Form,), {"country": IndividualForm.country})
        shown = probe()
        shown.country.choices = fields.countries("")  # as RequestForm fills them in
        rules = [fields.field_rule(shown.country)]

        def server(raw):
            form = probe(formdata=MultiDict({"country": raw}))
            form.country.choices = fields.countries("")
            form.validate()
            return {"errors": sorted(form.errors), "answers": form.data}

        cases = [*names, *names.values(), *others]
        expected = [server(raw) for raw in cases]
    answers = page.ask(
        "check", rules=rules, tables=TABLES | {"countries": names}, cases=[{"country": c} for c in cases]
    )
    browser = [{"errors": sorted(a["errors"]), "answers": a["answers"]} for a in answers]
    assert browser == expected
    assert [e["answers"]["country"] for e in expected[: len(names)]] == list(names.values())


def posted(text: str) -> str:
    """What a browser's form post makes of a JavaScript string: lone surrogates as U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@ENOUGH
@given(st.lists(st.characters(categories=["Cs"]) | PIECES, max_size=12).map("".join))
@example("cut \ud83d here")  # pasted text cut in the middle of an emoji
@example("\ud83d\ude00")  # a pair: one character to JavaScript
def test_lone_surrogates_are_cleaned_as_a_form_post_sends_them(page, text):
    [browser] = page.ask("clean", cases=[text])  # JSON carries the halves to Node as \ud83d escapes
    assert browser["cleaned"] == fields.clean(posted(text))
    assert check_payload({"form": "feedback", "lang": "en", "fields": {"message": browser["cleaned"]}})


# Files: their names are cleaned like answers and cut to uploads.MAX_NAME; their declared types
# are kept only when they look like one.
TYPES = st.sampled_from(
    [
        "image/jpeg",
        "Image/PNG; charset=x",
        " text/plain ",
        "application/vnd.oasis.opendocument.text",
        "",
        "x",
        "a/b/c",
        "\ufeffimage/png",
        "image/\u212aa",
        "\x85text/plain",
        "\u3000a/b",
    ]
)


@ENOUGH
@given(name=st.one_of(TEXT, around(uploads.MAX_NAME)), declared=TYPES | st.text(max_size=20))
def test_file_names_and_types_are_written_alike(page, staging, name, declared):
    part = uploads.Uploads(staging, Quota(10**9, 0), 1, 1).part("not-a-file-field", name, declared)
    [browser] = page.ask("files", cases=[{"name": name, "type": declared}])
    assert browser == {"name": part.filename, "type": part.content_type}


@pytest.fixture(scope="module")
def staging(tmp_path_factory):
    """A store to stage files in (a part under another field's name stores nothing)."""
    from intake.server.database import SQLite
    from intake.server.store import Store

    with Store(SQLite(tmp_path_factory.mktemp("staging") / "intake.db")) as store:
        store.create()
        yield store


def test_the_format_modules_constants_are_the_servers(page):
    """Each constant's comment names the Python constant it mirrors: they are equal."""
    js = page.ask("constants")
    nonce = stream.nonce(0x01020304, last=True)
    assert js == {
        "VERSION": envelope.VERSION,
        "KIND_BODY": envelope.KIND_BODY,
        "ORIGIN_BROWSER": envelope.ORIGIN_BROWSER,
        "FRAME_SIZE": envelope.FRAME_SIZES[envelope.KIND_BODY],
        "KEY_ID_SIZE": envelope.KEY_ID_SIZE,
        "HEADER_SIZE": envelope.HEADER_SIZE,
        "LENGTH_AT": struct.calcsize(envelope._HEADER.format.removesuffix("I")),
        "MAX_PAYLOAD": envelope.MAX_PAYLOAD[envelope.KIND_BODY],
        "CHUNK_SIZE": stream.CHUNK,
        "STREAM_KEY_SIZE": stream.KEY_SIZE,
        "NONCE_SIZE": len(nonce),
        "COUNTER_LOW_AT": nonce.index(b"\x01\x02\x03\x04"),
        "LAST_FLAG_AT": len(nonce) - 1,
        "MAX_NAME": uploads.MAX_NAME,
        "MEDIA_TYPE": uploads._MEDIA_TYPE.pattern.replace("\\A", "^").replace("\\Z", "$").replace("/", "\\/"),
        "UNKNOWN_TYPE": "application/octet-stream",
        "ALPHABET": refcode.ALPHABET,
        "CODE_LENGTH": refcode.LENGTH,
        "CODE_GROUP": refcode.GROUP,
        "MAX_TYPED_CODE": 200,  # refcode.normalise's limit
        "GF32_CARRY": 1 << 5,
        "GF32_REDUCE": refcode._gf32_double(1 << 4) ^ (1 << 5),  # x^5 reduced by x^5 + x^2 + 1
        "MAX_DIGITS": sys.int_info.default_max_str_digits,
        "DIGITS_IN_RUN": 10,
    }
    assert nonce[-1] == 1 and stream.nonce(0, last=False)[-1] == 0
    zeros = checks.digits()  # every digit the server reads is in a run of ten from a zero
    digits = [p for p in range(sys.maxunicode + 1) if unicodedata.decimal(chr(p), None) is not None]
    assert digits == sorted(z + d for z in zeros for d in range(10))
