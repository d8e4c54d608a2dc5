"""The catalogs against translations/GLOSSARY.md: a phrase the review ruled out stays out."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from intake.formats.languages import LANGUAGES

TRANSLATIONS = Path(__file__).parents[2] / "translations"
RULE = re.compile(r'^- (?P<lang>[a-z]{2}) "(?P<phrase>[^"]+)":', re.M)


def ruled_out() -> dict[str, list[str]]:
    words = (TRANSLATIONS / "GLOSSARY.md").read_text().split("## Words we do not use", 1)[1]
    phrases: dict[str, list[str]] = {}
    for rule in RULE.finditer(words):
        phrases.setdefault(rule["lang"], []).append(rule["phrase"])
    return phrases


def texts(lang: str) -> list[str]:
    """What a reader of `lang` sees: the English source, or that language's translations."""
    path = TRANSLATIONS / ("messages.pot" if lang == "en" else f"{lang}/LC_MESSAGES/messages.po")
    with open(path, "rb") as f:
        return [m.id if lang == "en" else m.string for m in read_po(f) if m.id]


def test_the_glossary_rules_out_phrases_in_the_languages_of_the_site():
    assert set(ruled_out()) <= set(LANGUAGES)
    assert ruled_out()["en"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_page_uses_a_phrase_the_glossary_rules_out(lang):
    found = [
        (phrase, text[:60])
        for phrase in ruled_out().get(lang, [])
        for text in texts(lang)
        if phrase.casefold() in str(text).casefold()
    ]
    assert not found
