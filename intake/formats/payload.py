"""The body payload: strict JSON, encoded one way by both sealers, and its schema (formats.md, 5)."""

import json
import re
from typing import Any, NoReturn, TypeAlias

from intake.formats import languages
from intake.formats.envelope import FormatError

FORMS = ("individual", "organisation", "feedback", "followup")

# A JSON object as parsed: its values are whatever the bytes held until a check looks at them.
JSONObject: TypeAlias = dict[str, Any]


def encode_json(value: object) -> bytes:
    """Encode JSON the one way both implementations do: compact, UTF-8, keys in order given."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> JSONObject:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate key")
    return value


def parse_json_object(data: bytes, what: str) -> JSONObject:
    # Strict JSON: no NaN or Infinity, no key given twice (readers would disagree on which wins).
    try:
        value = json.loads(
            data.decode("utf-8"), parse_constant=_refuse_constant, object_pairs_hook=_no_duplicate_keys
        )
    except UnicodeDecodeError:
        raise FormatError(f"{what} is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise FormatError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise FormatError(f"{what} is not a JSON object")
    return value


def _text(value: object) -> bool:
    """True for a str that is valid Unicode (JSON's \\ud800 escapes can smuggle lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_HEX_KEY = re.compile(r"\A[0-9a-f]{64}\Z")


def check_attachments(entries: object) -> None:
    """Check the "attachments" list: name, declared type, true size and file key of each stream."""
    if not isinstance(entries, list) or len(entries) > 20:
        raise FormatError("body's attachments are not a list of at most 20")
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"name", "type", "size", "key"}:
            raise FormatError("an attachment entry has unexpected fields")
        if not (_text(entry["name"]) and _text(entry["type"]) and len(entry["name"]) <= 255):
            raise FormatError("an attachment's name or type is not text")
        size = entry["size"]
        if type(size) is not int or not 0 <= size <= 2**40:
            raise FormatError("an attachment's size is not a whole number in range")
        if not isinstance(entry["key"], str) or not _HEX_KEY.match(entry["key"]):
            raise FormatError("an attachment's key is not 64 hex digits")


def check_payload(payload: JSONObject) -> JSONObject:
    """Check a body payload's shape (docs/formats.md, "Body payload"); return it unchanged."""
    if not set(payload) <= {"form", "lang", "fields", "attachments"}:
        raise FormatError("body has unexpected keys")
    check_attachments(payload.get("attachments", []))
    if payload.get("form") not in FORMS:
        raise FormatError("body names an unknown form")
    if payload.get("lang") not in languages.LANGUAGES:
        raise FormatError("body names an unknown language")
    fields = payload.get("fields")
    if not isinstance(fields, dict):
        raise FormatError("body has no fields object")
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        if not (_text(name) and all(_text(v) for v in values)):
            raise FormatError("a body field is neither text nor a list of texts")
    return payload
