"""Drop-box items: a body Envelope joined to the server's sealed Record about it."""

import datetime
import re
from dataclasses import dataclass

from nacl.public import PrivateKey, PublicKey

from intake.formats import envelope, refcode
from intake.formats.envelope import KIND_BODY, KIND_RECORD, FormatError
from intake.formats.payload import FORMS, JSONObject, check_payload, encode_json, parse_json_object

RECORD_SIZE = envelope.ENVELOPE_SIZES[KIND_RECORD]
BODY_SIZE = envelope.ENVELOPE_SIZES[KIND_BODY]
ITEM_SIZE = RECORD_SIZE + BODY_SIZE

_DAY = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


def body_binding(body_envelope: bytes) -> str:
    """Return what binds a Record to its body: the body's ephemeral public key, in hex.

    Each sealed box has a fresh ephemeral key, and the box's MAC covers the rest under it,
    so this names one body as well as a hash of all 64 KiB would, without hashing it. (Any
    holder of the public key can seal a Record; the binding catches mix-ups, not forgery.)
    """
    start = 1 + envelope.KEY_ID_SIZE
    return body_envelope[start : start + 32].hex()


def seal_body(payload: JSONObject, public_key: PublicKey, origin: int = envelope.ORIGIN_SERVER) -> bytes:
    """Seal a defender's payload in server memory (the path taken without JavaScript)."""
    kid = envelope.key_id(bytes(public_key))
    frame = envelope.Frame(KIND_BODY, origin, kid, encode_json(payload))
    return envelope.seal(frame, public_key)


def seal_item(body_envelope: bytes, record: "Record", public_key: PublicKey) -> bytes:
    """Return the drop-box item: the Record sealed now, followed by the body Envelope as received."""
    kid = envelope.key_id(bytes(public_key))
    if envelope.envelope_key_id(body_envelope, KIND_BODY) != kid:
        raise FormatError("body is sealed to another key than the current one")
    fields = {
        "ref": record.reference,
        "day": record.day,
        "form": record.form,
        "origin": record.origin,
        "body": body_binding(body_envelope),
    }
    frame = envelope.Frame(KIND_RECORD, envelope.ORIGIN_SERVER, kid, encode_json(fields))
    return envelope.seal(frame, public_key) + body_envelope


@dataclass(frozen=True)
class Record:
    """What the server asserts about a body: the reference code, day, form and origin."""

    reference: str
    day: str
    form: str
    origin: str

    def __post_init__(self) -> None:
        if not refcode.is_canonical(self.reference):  # every record the server seals is
            refcode.normalise(self.reference)  # InvalidCode for what is no code at all
            raise FormatError("record reference code is not canonical")
        if not _DAY.match(self.day):
            raise FormatError("record day is not YYYY-MM-DD")
        try:
            datetime.date.fromisoformat(self.day)
        except ValueError:
            raise FormatError("record day is not a date") from None
        if self.form not in FORMS:
            raise FormatError("record names an unknown form")
        if self.origin not in envelope.ORIGINS.values():
            raise FormatError("record names an unknown origin")


@dataclass(frozen=True)
class Opened:
    """A decrypted item: the Record, the defender's payload, and the body's binding."""

    record: Record
    payload: JSONObject
    binding: str
    key_id: bytes


def open_item(data: bytes, keys: dict[bytes, PrivateKey]) -> Opened:
    """Open a drop-box item and check that its Record and body belong together."""
    if len(data) != ITEM_SIZE:
        raise FormatError(f"item is {len(data)} bytes, not {ITEM_SIZE}")
    record_env, body_env = data[:RECORD_SIZE], data[RECORD_SIZE:]
    record_frame = envelope.open_envelope(record_env, KIND_RECORD, keys)
    if record_frame.origin != envelope.ORIGIN_SERVER:
        raise FormatError("record was not sealed by the server")
    fields = parse_json_object(record_frame.payload, "record")
    if set(fields) != {"ref", "day", "form", "origin", "body"}:
        raise FormatError("record has unexpected fields")
    if not all(isinstance(v, str) for v in fields.values()):
        raise FormatError("record values must be text")
    try:
        record = Record(fields["ref"], fields["day"], fields["form"], fields["origin"])
    except refcode.InvalidCode:
        raise FormatError("record reference code is invalid") from None
    binding = body_binding(body_env)
    if fields["body"] != binding:
        raise FormatError("record belongs to another body")
    body_frame = envelope.open_envelope(body_env, KIND_BODY, keys)
    if body_frame.key_id != record_frame.key_id:
        raise FormatError("record and body are sealed to different keys")
    if envelope.ORIGINS[body_frame.origin] != record.origin:
        raise FormatError("record and body disagree about where the body was sealed")
    payload = check_payload(parse_json_object(body_frame.payload, "body"))
    if payload["form"] != record.form:
        raise FormatError("record and body disagree about the form")
    return Opened(record, payload, binding, record_frame.key_id)
