"""Languages: the URL decides (Tor Browser sends one Accept-Language for everyone)."""

# code: (name in its own language, text direction). English is the source language.
LANGUAGES = {
    "en": ("English", "ltr"),
    "es": ("Español", "ltr"),
    "fr": ("Français", "ltr"),
    "ar": ("العربية", "rtl"),
    "ru": ("Русский", "ltr"),
}
DEFAULT = "en"


def direction(lang: str) -> str:
    """Return "rtl" or "ltr" for a language code."""
    return LANGUAGES.get(lang, LANGUAGES[DEFAULT])[1]
