"""The five languages, in one place: the site's, the catalogs', a payload's, a reply's."""

# code: (its name in its own language, its direction). English is the source language; the
# order is the order of the language switcher and of the reply-language choices.
LANGUAGES = {
    "en": ("English", "ltr"),
    "es": ("Español", "ltr"),
    "fr": ("Français", "ltr"),
    "ar": ("العربية", "rtl"),
    "ru": ("Русский", "ltr"),
}
DEFAULT = "en"


def direction(lang: str) -> str:
    """Return "rtl" or "ltr" for a language code (the default language's for an unknown one)."""
    return LANGUAGES.get(lang, LANGUAGES[DEFAULT])[1]
