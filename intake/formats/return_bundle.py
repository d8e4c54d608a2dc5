"""Return bundles: statuses and acknowledgements from the air gap, signed, sequenced, hostile-safe."""

import datetime
import struct
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

MAGIC = b"INTAKE-R"
VERSION = 1
SIGN_DOMAIN = b"intake.return.v1\0"
SIGNATURE_SIZE = 64
MESSAGE_SIZE = 2048  # padded plaintext: 2-byte length, UTF-8, zeros
MAX_MESSAGE = MESSAGE_SIZE - 2
SEALED_MESSAGE_SIZE = MESSAGE_SIZE + 48
MAX_ENTRIES = 100_000

# The fixed set the secretariat chooses from; the web side translates each. A return bundle
# carries a status as its index here, so a new one goes at the end and older bundles keep
# their meaning. "delivered" is sent by the offline tool itself: the request reached the
# secretariat's offline computer (and the server deleted its copy), and waits for a decision.
STATUSES = ("received", "in_review", "more_info", "referred", "accepted", "declined", "closed", "delivered")

_HEADER = struct.Struct(">8sB3sQ10sII")  # magic, version, reserved, sequence, day, updates, acks
_UPDATE = struct.Struct(">32sB10sB")  # lookup id, status index, day, has message
# The largest bundle the format allows: a larger file is refused before it is read into memory.
MAX_BUNDLE_SIZE = _HEADER.size + MAX_ENTRIES * (_UPDATE.size + SEALED_MESSAGE_SIZE + 16) + SIGNATURE_SIZE


class ReturnError(ValueError):
    """A return bundle that is unsigned, forged, damaged, replayed or malformed."""


@dataclass(frozen=True)
class Update:
    """A status for one lookup id, with the secretariat's message sealed to the code's reply key."""

    lookup_id: bytes
    status: str
    day: str
    sealed_message: bytes | None = None


@dataclass(frozen=True)
class ReturnBundle:
    """What one reply carries: a sequence number, status updates, acknowledged item ids."""

    sequence: int
    day: str
    updates: tuple[Update, ...]
    acks: tuple[bytes, ...]


def seal_message(text: str, reply_public_key: PublicKey) -> bytes:
    """Pad a message to a fixed size (its length stays private) and seal it to the reply key."""
    data = text.encode("utf-8")
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"a message is at most {MAX_MESSAGE} bytes of UTF-8 ({len(data)} given)")
    padded = (len(data).to_bytes(2, "big") + data).ljust(MESSAGE_SIZE, b"\0")
    return SealedBox(reply_public_key).encrypt(padded)


def open_message(sealed: bytes, reply_key: PrivateKey) -> str:
    """Open a sealed message with the key derived from the reference code; raise ReturnError."""
    try:
        padded = SealedBox(reply_key).decrypt(sealed)
        length = int.from_bytes(padded[:2], "big")
        if len(padded) != MESSAGE_SIZE or length > MAX_MESSAGE or any(padded[2 + length :]):
            raise ReturnError("message is malformed")
        return padded[2 : 2 + length].decode("utf-8")
    except (CryptoError, UnicodeDecodeError):
        raise ReturnError("message does not open with this code") from None


def encode(bundle: ReturnBundle, signing_key: SigningKey) -> bytes:
    """Serialise and sign a return bundle."""
    parts = [
        _HEADER.pack(
            MAGIC,
            VERSION,
            bytes(3),
            bundle.sequence,
            bundle.day.encode("ascii"),
            len(bundle.updates),
            len(bundle.acks),
        )
    ]
    for u in bundle.updates:
        parts.append(
            _UPDATE.pack(
                u.lookup_id, STATUSES.index(u.status), u.day.encode("ascii"), u.sealed_message is not None
            )
        )
        if u.sealed_message is not None:
            if len(u.sealed_message) != SEALED_MESSAGE_SIZE:
                raise ValueError("a sealed message has a fixed size")
            parts.append(u.sealed_message)
    parts.extend(bundle.acks)
    body = b"".join(parts)
    return body + signing_key.sign(SIGN_DOMAIN + body).signature


def decode(data: bytes, verify_key: VerifyKey) -> ReturnBundle:
    """Verify the signature first, then parse strictly; raise ReturnError saying what is wrong."""
    if len(data) < _HEADER.size + SIGNATURE_SIZE:
        raise ReturnError("the file is too short to be a return bundle")
    body, signature = data[:-SIGNATURE_SIZE], data[-SIGNATURE_SIZE:]
    try:
        verify_key.verify(SIGN_DOMAIN + body, signature)
    except BadSignatureError:
        raise ReturnError(
            "the signature does not verify with keys/signing.pub: forged, damaged, or signed by another key"
        ) from None
    magic, version, reserved, sequence, day, n_updates, n_acks = _HEADER.unpack_from(body)
    if magic != MAGIC or version != VERSION or reserved != bytes(3):
        raise ReturnError("not a version 1 return bundle")
    if n_updates > MAX_ENTRIES or n_acks > MAX_ENTRIES:
        raise ReturnError("the bundle claims too many entries")
    offset, updates = _HEADER.size, []
    try:
        for _ in range(n_updates):
            lookup_id, index, update_day, has_message = _UPDATE.unpack_from(body, offset)
            offset += _UPDATE.size
            sealed = None
            if has_message == 1:
                sealed = body[offset : offset + SEALED_MESSAGE_SIZE]
                offset += SEALED_MESSAGE_SIZE
            elif has_message != 0 or index >= len(STATUSES):
                raise ReturnError("an update is malformed")
            updates.append(Update(lookup_id, STATUSES[index], _day(update_day), sealed))
    except struct.error:
        raise ReturnError("the bundle is truncated") from None
    acks = [body[offset + 16 * i : offset + 16 * (i + 1)] for i in range(n_acks)]
    if offset + 16 * n_acks != len(body) or any(len(a) != 16 for a in acks):
        raise ReturnError("the bundle's length does not match its contents")
    if any(u.sealed_message is not None and len(u.sealed_message) != SEALED_MESSAGE_SIZE for u in updates):
        raise ReturnError("the bundle is truncated")
    return ReturnBundle(sequence, _day(day), tuple(updates), tuple(acks))


def _day(raw: bytes) -> str:
    try:
        text = raw.decode("ascii")
        datetime.date.fromisoformat(text)
    except (UnicodeDecodeError, ValueError):
        raise ReturnError("a date in the bundle is malformed") from None
    if len(text) != 10:
        raise ReturnError("a date in the bundle is malformed")
    return text
