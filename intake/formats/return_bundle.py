"""Return bundles: statuses and acknowledgements from the air gap, signed, sequenced, hostile-safe."""

import datetime
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

MAGIC = b"INTAKE-R"
VERSION = 2  # written; version 1 (no signature per status) is still read
VERSIONS = (1, 2)
SIGN_DOMAINS = {1: b"intake.return.v1\0", 2: b"intake.return.v2\0"}
UPDATE_DOMAIN = b"intake.status.v2\0"  # what each status's own signature covers, in version 2
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
MAX_BUNDLE_SIZE = (
    _HEADER.size + MAX_ENTRIES * (_UPDATE.size + SEALED_MESSAGE_SIZE + SIGNATURE_SIZE + 16) + SIGNATURE_SIZE
)


class ReturnError(ValueError):
    """A return bundle that is unsigned, forged, damaged, replayed or malformed."""


@dataclass(frozen=True)
class Update:
    """A status for one lookup id, with the secretariat's message sealed to the code's reply key,
    and (version 2) the secretariat's signature of it, which the server keeps and checks at every
    lookup."""

    lookup_id: bytes
    status: str
    day: str
    sealed_message: bytes | None = None
    signature: bytes | None = None

    def signed_bytes(self) -> bytes:
        """What the update's own signature covers: its fields as the bundle carries them."""
        head = _UPDATE.pack(self.lookup_id, STATUSES.index(self.status), self.day.encode("ascii"),
                            self.sealed_message is not None)  # fmt: skip
        return UPDATE_DOMAIN + head + (self.sealed_message or b"")

    def signed(self, signing_key: SigningKey) -> "Update":
        """The update with its signature."""
        return replace(self, signature=signing_key.sign(self.signed_bytes()).signature)

    def verifies(self, verify_keys: Sequence[VerifyKey]) -> bool:
        """True if one of the keys signed exactly this status, day and message for this lookup id."""
        if self.signature is None or len(self.signature) != SIGNATURE_SIZE:
            return False
        message = self.signed_bytes()
        for key in verify_keys:
            try:
                key.verify(message, self.signature)
                return True
            except BadSignatureError:
                continue
        return False


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


def encode(bundle: ReturnBundle, signing_key: SigningKey, version: int = VERSION) -> bytes:
    """Serialise and sign a return bundle (version 2 also signs each status on its own)."""
    header = _HEADER.pack(MAGIC, version, bytes(3), bundle.sequence, bundle.day.encode("ascii"),
                          len(bundle.updates), len(bundle.acks))  # fmt: skip
    parts = [header]
    for update in bundle.updates:
        if update.sealed_message is not None and len(update.sealed_message) != SEALED_MESSAGE_SIZE:
            raise ValueError("a sealed message has a fixed size")
        signed = update.signed_bytes()
        parts.append(signed[len(UPDATE_DOMAIN) :])
        if version >= 2:
            parts.append(signing_key.sign(signed).signature)
    parts.extend(bundle.acks)
    body = b"".join(parts)
    return body + signing_key.sign(SIGN_DOMAINS[version] + body).signature


def decode(data: bytes, verify_key: VerifyKey) -> ReturnBundle:
    """Verify the signature first, then parse strictly; raise ReturnError saying what is wrong.

    A version 2 bundle's statuses keep their own signatures, each checked here too.
    """
    if len(data) < _HEADER.size + SIGNATURE_SIZE:
        raise ReturnError("the file is too short to be a return bundle")
    body, signature = data[:-SIGNATURE_SIZE], data[-SIGNATURE_SIZE:]
    version = body[len(MAGIC)]  # chooses the signature's domain; the signature then covers it
    if body[: len(MAGIC)] != MAGIC or version not in VERSIONS:
        raise ReturnError(f"not a return bundle this server reads (version {version}; it reads 1 and 2)")
    try:
        verify_key.verify(SIGN_DOMAINS[version] + body, signature)
    except BadSignatureError:
        raise ReturnError(
            "the signature does not verify with keys/signing.pub: forged, damaged, or signed by another key"
        ) from None
    _magic, _version, reserved, sequence, day, n_updates, n_acks = _HEADER.unpack_from(body)
    if reserved != bytes(3):
        raise ReturnError("the bundle's header is malformed")
    if n_updates > MAX_ENTRIES or n_acks > MAX_ENTRIES:
        raise ReturnError("the bundle claims too many entries")
    offset, updates = _HEADER.size, []
    try:
        for _ in range(n_updates):
            lookup_id, index, update_day, has_message = _UPDATE.unpack_from(body, offset)
            offset += _UPDATE.size
            if has_message not in (0, 1) or index >= len(STATUSES):
                raise ReturnError("an update is malformed")
            sealed = None
            if has_message:
                sealed = _take(body, offset, SEALED_MESSAGE_SIZE)
                offset += SEALED_MESSAGE_SIZE
            update = Update(lookup_id, STATUSES[index], _day(update_day), sealed)
            if version >= 2:
                update = replace(update, signature=_take(body, offset, SIGNATURE_SIZE))
                offset += SIGNATURE_SIZE
                if not update.verifies([verify_key]):
                    raise ReturnError("a status's own signature does not verify")
            updates.append(update)
    except struct.error:
        raise ReturnError("the bundle is truncated") from None
    acks = [body[offset + 16 * i : offset + 16 * (i + 1)] for i in range(n_acks)]
    if offset + 16 * n_acks != len(body) or any(len(a) != 16 for a in acks):
        raise ReturnError("the bundle's length does not match its contents")
    return ReturnBundle(sequence, _day(day), tuple(updates), tuple(acks))


def _take(body: bytes, offset: int, size: int) -> bytes:
    piece = body[offset : offset + size]
    if len(piece) != size:
        raise ReturnError("the bundle is truncated")
    return piece


def _day(raw: bytes) -> str:
    try:
        text = raw.decode("ascii")
        datetime.date.fromisoformat(text)
    except (UnicodeDecodeError, ValueError):
        raise ReturnError("a date in the bundle is malformed") from None
    if len(text) != 10:
        raise ReturnError("a date in the bundle is malformed")
    return text
