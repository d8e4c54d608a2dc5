"""Cells written for a spreadsheet never start a formula, whatever invisible or wide characters lead."""

import csv
import io
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from intake.offline import render

from .crafting import KEYRING, honest_entries, made, write_entries

FORMULA = "=+-@"
# Every character a spreadsheet, or Unicode's compatibility mapping (NFKC), reads as one of them:
# the full-width ＝＋－＠, the small and superscript forms, and the plain ones.
LOOK_ALIKES = sorted(
    c
    for c in map(chr, range(sys.maxunicode + 1))
    if unicodedata.category(c) != "Cs" and unicodedata.normalize("NFKC", c)[:1] in FORMULA
)
# What may come before the first visible character: every kind of space and line break,
# control characters (tab, CR, LF), format characters (zero-width space, BOM, direction marks).
INVISIBLE = st.text(st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf"], exclude_characters="\x00"))


def test_the_look_alikes_include_the_wide_forms():
    assert {"＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫", "⁺", "₊"} <= set(LOOK_ALIKES)


@given(INVISIBLE, st.sampled_from(LOOK_ALIKES), st.text())
def test_a_formula_behind_invisible_characters_is_defused(lead, sign, rest):
    value = lead + sign + rest
    assert render.defuse(value) == "'" + value


@given(st.characters(categories=["L", "N"]), st.text())
def test_text_that_starts_with_a_letter_or_digit_is_left_alone(first, rest):
    assert render.defuse(first + rest) == first + rest


COUNTRIES = [
    " =1+1",
    "\t=1",
    "\n=1",
    "\r=1",
    "\u00a0+1",
    "\u200b-1",
    "\ufeff@SUM(A1)",
    "＝1",
    "\u2028=1",
    "\u3000＋1",
    "\u200e\u202e=1",
    "=\u0338",
    "Atlantis",
]


def test_index_and_decisions_defuse_every_cell(tmp_path):
    from intake.offline.decrypt import decrypt_bundle

    entries = []
    for n, country in enumerate(COUNTRIES):
        entries += honest_entries(bytes([n]) * 16, made(country=country))
    write_entries(tmp_path / "b.bin", entries)
    assert decrypt_bundle(tmp_path / "b.bin", KEYRING, tmp_path / "out").ok
    for name in ("index.csv", "decisions.csv"):
        text = (tmp_path / "out" / name).read_bytes().decode("utf-8-sig")  # keeps a lone CR
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        written = {row["country"] for row in rows}
        expected = {"'" + c for c in COUNTRIES if c != "Atlantis"} | {"Atlantis"}
        assert written == expected, name
