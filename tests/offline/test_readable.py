"""What the secretariat reads of an answer: every invisible or direction-changing character shown, the
script's own letters, marks and joiners left alone, whatever text surrounds them."""

import unicodedata

import pytest

from intake.offline.readable import text_html

SHOWN = {
    "\u202e": "right-to-left override",
    "\u2066": "left-to-right isolate",
    "\u200b": "zero-width space",
    "\ufeff": "byte order mark",
    "\x00": "NUL",
    "\x1b": "escape",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
    "\ue000": "private use",
    "\U000f0000": "private use, plane 15",
    "\u0378": "unassigned",
    "\ud800": "lone surrogate",
}
KEPT = {
    "\u200c": "zero-width non-joiner (Persian)",
    "\u200d": "zero-width joiner (emoji)",
    "\u200e": "left-to-right mark",
    "\u200f": "right-to-left mark",
    "\u061c": "Arabic letter mark",
    "\u00a0": "no-break space",
    "\u0651": "Arabic shadda (a combining mark)",
    "\n": "line break",
    "\t": "tab",
}
AROUND = ["", "Threatened after the trial", "تلقيت تهديدات بعد المحاكمة", "Угрозы после суда", "a\nb\tc"]


@pytest.mark.parametrize("around", AROUND)
def test_invisible_characters_are_shown_and_the_scripts_own_are_not(around):
    for char, name in SHOWN.items():
        shown = text_html(f"{around}{char}{around}")
        assert f"[U+{ord(char):04X}]" in shown and char not in shown, name
    for char, name in KEPT.items():
        assert text_html(f"{around}{char}{around}") == f"{around}{char}{around}", name
    assert text_html(around + "<b>&") == around + "&lt;b&gt;&amp;"  # escaped, nothing more


@pytest.mark.slow
def test_every_character_of_the_categories_it_shows_is_shown():
    shown = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    kept = set(KEPT)
    for code in range(0x110000):
        char = chr(code)
        if unicodedata.category(char) in shown and char not in kept:
            assert f"[U+{code:04X}]" in text_html("Arabic عربي " + char), hex(code)
