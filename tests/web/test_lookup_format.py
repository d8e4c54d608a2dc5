"""The status page's derivations in the browser and the server's, byte for byte under Node: the same
reference code gives the same lookup id and reply key, and the secretariat's message opens alike.

The page derives both from the code itself, so the server never receives it; any difference
would mean a defender's request is not found, or the secretariat's message does not open.
"""

import base64
import hashlib
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from nacl.public import SealedBox

from intake.formats import refcode, return_bundle

from .test_validators import ENOUGH, KNOWN, NODE, PADDED_CODES, SAMPLE_CODE, Page, typed_codes


@pytest.fixture(scope="module")
def page():
    if NODE is None:
        pytest.fail("node is required for the browser-format tests (apt-get install nodejs)")
    page = Page("lookup_node.js")
    yield page
    page.close()


def test_the_lookup_modules_constants_are_the_servers(page):
    """Each constant's comment names the Python constant it mirrors: they are equal."""
    assert page.ask("constants") == {
        "DIGEST_SIZE": len(refcode.lookup_id(SAMPLE_CODE)),
        "PERSON_SIZE": hashlib.blake2b.PERSON_SIZE,
        "LOOKUP_PERSON": refcode.LOOKUP_PERSON.decode("ascii"),
        "REPLY_PERSON": refcode.REPLY_PERSON.decode("ascii"),
        "CANONICAL": f"^[{refcode.ALPHABET}]{{{refcode.LENGTH}}}$",
        "MESSAGE_SIZE": return_bundle.MESSAGE_SIZE,
        "MAX_MESSAGE": return_bundle.MAX_MESSAGE,
    }


def test_blake2b_with_a_personalisation_is_hashlibs(page):
    """The vendored BLAKE2b takes no personalisation, so the page has its own: every input length
    around the block size, every digest size, personalisations of every length (hashlib pads a
    short one with zeros, as docs/formats.md says)."""
    rng = random.Random(15)
    cases = []
    for length in [*range(0, 300), 383, 384, 385, 1000, 4096]:
        size = rng.randint(1, 64)
        person = rng.randbytes(rng.randint(0, 16))
        cases.append({"input": rng.randbytes(length).hex(), "size": size, "person": person.hex()})
    for person in (refcode.LOOKUP_PERSON, refcode.REPLY_PERSON, b""):
        cases.append({"input": SAMPLE_CODE.encode().hex(), "size": 32, "person": person.hex()})
    cases.append({"input": b"abc".hex(), "size": 64, "person": ""})  # RFC 7693, appendix A
    answers = page.ask("blake2b", cases=cases)
    for case, answer in zip(cases, answers, strict=True):
        data, person = bytes.fromhex(case["input"]), bytes.fromhex(case["person"])
        assert answer == hashlib.blake2b(data, digest_size=case["size"], person=person).hexdigest(), case
    assert answers[-1].startswith("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1")


def typed_forms(code: str) -> list[str]:
    """One code as people type or paste it: display, lower case, spaces, no separators, look-alike
    letters, Eastern digits, fullwidth, and the marks a right-to-left page adds when copied."""
    display = refcode.display(code)
    lookalike = {symbol: typed for typed, symbol in refcode.LOOKALIKES.items() if symbol in "01ABEHKMPTX"}
    return [
        code,
        display,
        display.lower(),
        display.replace("-", " "),
        " " + display.lower().replace("-", "  ") + "\t",
        "".join(lookalike.get(c, c) for c in code),
        "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in display),
        "".join(chr(ord(c) + 0xFEE0) for c in code),
        "\u2066" + display + "\u2069",
        "\u200f" + display.replace("-", "\u2011") + "\u200e",
    ]


def test_the_derivations_are_refcode_pys_byte_for_byte(page):
    codes = [refcode.make() for _ in range(300)] + [SAMPLE_CODE, "0" * 20]
    # Every typed form reads as its code and gives its lookup id...
    typed = [form for code in codes for form in typed_forms(code)]
    answers = page.ask("derive", codes=typed, lookalikes=refcode.LOOKALIKES)
    for text, answer in zip(typed, answers, strict=True):
        code = refcode.normalise(text)
        assert answer == {"display": refcode.display(code), "lookupId": refcode.lookup_id(code).hex()}
    # ...and every code its reply key, secret and public halves.
    answers = page.ask("derive", codes=codes, lookalikes=refcode.LOOKALIKES, keys=True)
    for code, answer in zip(codes, answers, strict=True):
        key = refcode.reply_key(code)
        assert answer == {
            "display": refcode.display(code),
            "lookupId": refcode.lookup_id(code).hex(),
            "replySecret": bytes(key).hex(),
            "replyPublic": bytes(key.public_key).hex(),
        }
    # The known answers of docs/formats.md, section 11.
    [sample] = page.ask("derive", codes=["o123456789abcdefghjt"], lookalikes=refcode.LOOKALIKES, keys=True)
    assert sample["lookupId"] == "4dd154d83377496e7949f3d6f05075d9ebed1a8612e43c79814e8fdff0d685f9"
    assert sample["replySecret"] == "3c722a23a277cdad96b3b97bbf1c86ea4f5e96067b18a999a615032c6315836b"
    assert sample["replyPublic"] == "5a10095fe0387d814caea9b05e4c75104dd4aabeadac5190d3b501e92cf85063"


@ENOUGH
@given(typed_codes() | PADDED_CODES | st.text(KNOWN, max_size=30))
@example("\u200b" * 181 + SAMPLE_CODE)  # over refcode.normalise's 200 characters before reading
@example("")
@example(SAMPLE_CODE[:-1] + "U")
def test_what_cannot_be_a_code_is_told_alike(page, text):
    """The page tells a code that cannot be one without sending it: for the same reason, with the
    same count, as the server would."""
    [answer] = page.ask("derive", codes=[text], lookalikes=refcode.LOOKALIKES)
    try:
        code = refcode.normalise(text)
    except refcode.InvalidCode as e:
        assert answer == {"problem": e.reason, "count": e.count}
    else:
        assert answer["lookupId"] == refcode.lookup_id(code).hex()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def sealed_plain(plain: bytes, code: str) -> str:
    """A 2,048-byte plaintext sealed to a code's reply key, as no honest secretariat writes it."""
    return b64(SealedBox(refcode.reply_key(code).public_key).encrypt(plain))


def test_the_page_opens_what_the_secretariat_seals_and_refuses_what_it_would_not(page):
    code, other = refcode.make(), refcode.make()
    messages = [
        "",
        "Merci. Nous vous écrirons.",
        "تمت الموافقة على طلبك. سنتواصل معك قريبًا.",
        "\ufeffa message that starts with a byte order mark",
        "𝄞" * (return_bundle.MAX_MESSAGE // 4) + "ab",  # the longest, in four-byte characters
    ]
    key = refcode.reply_key(code).public_key
    cases = [{"code": code, "sealed": b64(return_bundle.seal_message(m, key))} for m in messages]
    good = return_bundle.seal_message("hello", key)
    flipped = bytearray(good)
    flipped[100] ^= 1
    refused = [
        {"code": other, "sealed": b64(good)},  # another code's key
        {"code": code, "sealed": b64(bytes(flipped))},  # changed on the way
        {"code": code, "sealed": b64(good[:-1])},  # cut
        {"code": code, "sealed": ""},
        {"code": code, "sealed": sealed_plain(b"\x00\x02hi\x00\x01" + bytes(2042), code)},  # not zeros
        {"code": code, "sealed": sealed_plain(b"\x07\xff" + bytes(2046), code)},  # too long a length
        {"code": code, "sealed": sealed_plain(b"\x00\x02\xed\xa0" + bytes(2044), code)},  # not UTF-8
        {"code": code, "sealed": sealed_plain(b"\x00\x02hi" + bytes(2043), code)},  # 2,047 bytes
    ]
    answers = page.ask("open", cases=cases + refused)
    assert answers[: len(cases)] == [{"message": m} for m in messages]
    for case, answer in zip(refused, answers[len(cases) :], strict=True):
        with pytest.raises(return_bundle.ReturnError):
            sealed = base64.urlsafe_b64decode(case["sealed"] + "=" * (-len(case["sealed"]) % 4))
            return_bundle.open_message(sealed, refcode.reply_key(case["code"]))
        assert "refused" in answer


def test_a_derivation_takes_the_canonical_code_only(page):
    """As refcode.py's: a display form or a typed one would give another id, so it is refused."""
    code = refcode.make()
    texts = [refcode.display(code), code.lower(), code[:-1], code + "0", code[:-1] + "U", code]
    answers = page.ask("raw", codes=texts)
    assert [len(refused) for refused in answers] == [2, 2, 2, 2, 2, 0]
