"""Fixtures shared by every test: keys, payloads, items and bundles built with the real code."""

import os
import secrets
from pathlib import Path

import pytest

from intake import bundle, item, refcode
from intake.offline.keyring import Generation, Keyring

ROOT = Path(__file__).resolve().parent.parent

# Text a defender might type, one per language: Arabic, Cyrillic, accented Latin, emoji.
SAMPLES = {
    "en": "Threatened after the trial; please help with relocation 🙏",
    "es": "Amenazada después del juicio; la policía vigila mi casa. ¿Pueden ayudar? ñ á é",
    "fr": "Menacé après le procès ; la police surveille ma maison. Déjà « trois » fois.",
    "ar": "تلقيت تهديدات بعد المحاكمة، والشرطة تراقب منزلي. أرجو المساعدة ٣ مرات",
    "ru": "Угрозы после суда; полиция следит за моим домом. Прошу помощи — срочно.",
}


def payload(lang="en", text=None, form="individual", urgency="normal", **extra):
    """A body payload as the web forms build it."""
    fields = {"name": f"marker-{secrets.token_hex(6)}", "country": "Atlantis", "urgency": urgency}
    fields["threat"] = SAMPLES[lang] if text is None else text
    fields.update(extra)
    return {"form": form, "lang": lang, "fields": fields}


@pytest.fixture
def generation():
    """One generation of secretariat keys."""
    return Generation.new()


@pytest.fixture
def keyring(generation):
    """A keyring holding that generation."""
    return Keyring((generation,))


def make_item(body, generation, *, reference=None, day="2026-11-21", origin="server"):
    """Seal a payload and its Record as the server does; return (reference, item bytes)."""
    reference = reference or refcode.make()
    pub = generation.box.public_key
    body_env = item.seal_body(body, pub, {"server": 1, "browser": 2}[origin])
    record = item.Record(reference, day, body["form"], origin)
    return reference, item.seal_item(body_env, record, pub)


def write_bundle(path, datas):
    """Write item bytes into an export bundle with fresh random ids; return the ids."""
    ids = [os.urandom(16) for _ in datas]
    with open(path, "wb") as f:
        bundle.write(f, ((bundle.TYPE_ITEM, i, d) for i, d in zip(ids, datas, strict=True)), len(datas))
    return ids


def tree(path):
    """Every file and folder below `path`, for 'nothing escaped' checks."""
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*"))
