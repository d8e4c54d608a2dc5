"""Reference codes: what a defender types must find their request; a typo must not find another."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.formats import refcode
from intake.formats.refcode import ALPHABET, InvalidCode


def test_codes_are_random_grouped_and_checked():
    codes = {refcode.make() for _ in range(1000)}
    assert len(codes) == 1000
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{20}", code)
        assert re.fullmatch(r"([0-9A-Z]{5}-){3}[0-9A-Z]{5}", refcode.display(code))
        assert refcode.normalise(refcode.display(code)) == code
    # Every place of the random part takes every symbol (31/32 per try: missing one is out of reach).
    for place in range(refcode.RANDOM_SYMBOLS):
        assert {code[place] for code in codes} == set(ALPHABET), place


@pytest.mark.parametrize(
    "typed",
    [
        "{d}",
        "{lower}",
        "  {nohyphen}  ",
        "{d_spaced}",
        "{d}".replace("-", "--"),
        "\u2066{d}\u2069",  # left-to-right isolate copied from an Arabic page
        "\u200f{d}\u200e",
        "{d_endash}",
    ],
)
def test_normalise_accepts_how_people_type(typed):
    code = "0123456789ABCDEFGHJ" + refcode.check_symbol("0123456789ABCDEFGHJ")
    d = refcode.display(code)
    text = typed.format(
        d=d,
        lower=d.lower(),
        nohyphen=code,
        d_spaced=d.replace("-", " "),
        d_endash=d.replace("-", "\u2013"),
    )
    assert refcode.normalise(text) == code


def test_lookalikes_cyrillic_greek_and_eastern_digits():
    code = "0123456789ABCEHKMPTX"[:19]
    code += refcode.check_symbol(code)
    # O for zero, l and I for one, Arabic-Indic and Persian digits, Cyrillic and Greek capitals.
    typed = code.replace("0", "O", 1).replace("1", "l", 1)
    assert refcode.normalise(typed) == code
    arabic = "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in code)
    persian = "".join(chr(0x06F0 + int(c)) if c.isdigit() else c for c in code)
    cyrillic = code.translate(str.maketrans("ABCEHKMPTX", "АВСЕНКМРТХ"))
    greek = code.translate(str.maketrans("ABEHKMPTX", "ΑΒΕΗΚΜΡΤΧ"))
    for variant in (arabic, persian, cyrillic, greek, cyrillic.lower()):
        assert variant != code
        assert refcode.normalise(variant) == code


@pytest.mark.parametrize("text", ["", "ABC", "U" * 20, "!" * 20, "0" * 21, None, 12345, "x" * 500])
def test_normalise_refuses_what_is_not_a_code(text):
    with pytest.raises(InvalidCode):
        refcode.normalise(text)


def test_check_symbol_catches_every_single_error_and_neighbour_swap():
    for _ in range(20):
        code = refcode.make()
        for i in range(refcode.LENGTH):
            for symbol in ALPHABET:
                if symbol != code[i]:
                    with pytest.raises(InvalidCode):
                        refcode.normalise(code[:i] + symbol + code[i + 1 :])
        for i in range(refcode.LENGTH - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                with pytest.raises(InvalidCode):
                    refcode.normalise(swapped)


@given(st.text(max_size=300))
def test_normalise_fuzz_only_refuses_cleanly(text):
    try:
        code = refcode.normalise(text)
    except InvalidCode:
        return
    assert refcode.normalise(code) == code


@given(
    st.one_of(
        st.text(alphabet=refcode.ALPHABET + "-ilo ", max_size=25),
        st.builds(refcode.make),
        st.builds(
            lambda code, last: code[:-1] + last, st.builds(refcode.make), st.sampled_from(refcode.ALPHABET)
        ),
        st.builds(refcode.display, st.builds(refcode.make)),
    )
)
def test_a_canonical_code_is_exactly_what_normalise_returns_unchanged(text):
    """The offline tool's quick test of a Record's code agrees with normalise() on every text."""
    try:
        unchanged = refcode.normalise(text) == text
    except InvalidCode:
        unchanged = False
    assert refcode.is_canonical(text) == unchanged


def test_lookup_id_and_reply_key_are_distinct_and_stable():
    code = refcode.make()
    assert refcode.lookup_id(code) == refcode.lookup_id(code)
    assert len(refcode.lookup_id(code)) == 32
    assert bytes(refcode.reply_key(code)) != refcode.lookup_id(code)
    assert bytes(refcode.reply_key(code).public_key) == bytes(refcode.reply_key(code).public_key)
    assert refcode.lookup_id(refcode.make()) != refcode.lookup_id(code)


@pytest.mark.parametrize(
    ("text", "reason", "count"),
    [
        ("", "length", 0),
        ("0123456789ABCDEFGHJ", "length", 19),  # a symbol missing
        ("01234-56789-ABCDE-FGHJT-7", "length", 21),  # one too many: hyphens do not count
        ("\u200b" * 181 + "0123456789ABCDEFGHJT", "length", 201),  # past the limit: not read at all
        ("01234-56789-ABCDE-FGHJU", "symbols", 20),  # U is in no code
        ("01234.56789.ABCDE.FGHJT"[:-1], "length", 22),  # a full stop is not a separator
        ("01234-56789-ABCDE-FGHJV", "check", 20),  # one symbol wrong
        ("10234-56789-ABCDE-FGHJT", "check", 20),  # two neighbours swapped
        (None, "length", 0),
    ],
)
def test_a_refusal_says_why(text, reason, count):
    with pytest.raises(InvalidCode) as refused:
        refcode.normalise(text)
    assert (refused.value.reason, refused.value.count) == (reason, count)
