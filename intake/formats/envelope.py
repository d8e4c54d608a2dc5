"""Key ids, Frames and Envelopes: the sealed bytes that leave a defender (spec: docs/formats.md)."""

import hashlib
import struct
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

VERSION = 1
KEY_ID_SIZE = 8
SEAL_OVERHEAD = 48  # ephemeral X25519 public key (32) + Poly1305 tag (16)

KIND_BODY = 1  # what the defender wrote, sealed by the browser or the server
KIND_RECORD = 2  # what the server asserts about it (code, day, form), sealed by the server

ORIGIN_SERVER = 1
ORIGIN_BROWSER = 2
ORIGINS = {ORIGIN_SERVER: "server", ORIGIN_BROWSER: "browser"}

# One fixed size per kind: the stored size says nothing about the request or its origin.
FRAME_SIZES = {KIND_BODY: 65536, KIND_RECORD: 512}

_HEADER = struct.Struct(">BBB8sI")  # version, kind, origin, key id, payload length
HEADER_SIZE = _HEADER.size  # 15
MAX_PAYLOAD = {kind: size - HEADER_SIZE for kind, size in FRAME_SIZES.items()}
_ZEROS = bytes(max(FRAME_SIZES.values()))
ENVELOPE_SIZES = {kind: 1 + KEY_ID_SIZE + SEAL_OVERHEAD + size for kind, size in FRAME_SIZES.items()}


class FormatError(ValueError):
    """Bytes that are not a well-formed Frame or Envelope, or do not open."""


def key_id(public_key: bytes) -> bytes:
    """Return the 8-byte id of a 32-byte public key: SHA-512(key)[:8]."""
    if len(public_key) != 32:
        raise FormatError("a public key is 32 bytes")
    return hashlib.sha512(public_key).digest()[:KEY_ID_SIZE]


def fingerprint(public_key: bytes) -> str:
    """Return the 128-bit fingerprint to compare out of band; the key id is its first half."""
    if len(public_key) != 32:
        raise FormatError("a public key is 32 bytes")
    digest = hashlib.sha512(public_key).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class Frame:
    """The plaintext inside an Envelope: a header, a UTF-8 JSON payload, zero padding."""

    kind: int
    origin: int
    key_id: bytes
    payload: bytes

    def __post_init__(self) -> None:
        if self.kind not in FRAME_SIZES:
            raise FormatError(f"unknown frame kind {self.kind}")
        if self.origin not in ORIGINS:
            raise FormatError(f"unknown origin {self.origin}")
        if len(self.key_id) != KEY_ID_SIZE:
            raise FormatError("a key id is 8 bytes")
        if len(self.payload) > MAX_PAYLOAD[self.kind]:
            raise FormatError(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD[self.kind]}")

    def to_bytes(self) -> bytes:
        """Serialise to exactly FRAME_SIZES[kind] bytes."""
        header = _HEADER.pack(VERSION, self.kind, self.origin, self.key_id, len(self.payload))
        return (header + self.payload).ljust(FRAME_SIZES[self.kind], b"\0")

    @classmethod
    def from_bytes(cls, data: bytes) -> "Frame":
        """Parse a Frame strictly: known version and kind, exact size, length in range, zero padding."""
        if len(data) < HEADER_SIZE:
            raise FormatError("frame shorter than its header")
        version, kind, origin, kid, length = _HEADER.unpack_from(data)
        if version != VERSION:
            raise FormatError(f"frame version {version} is not {VERSION}")
        if kind not in FRAME_SIZES:
            raise FormatError(f"unknown frame kind {kind}")
        if len(data) != FRAME_SIZES[kind]:
            raise FormatError(f"frame of kind {kind} is {len(data)} bytes, not {FRAME_SIZES[kind]}")
        if length > MAX_PAYLOAD[kind]:
            raise FormatError(f"frame claims a payload of {length} bytes")
        end = HEADER_SIZE + length
        if data[end:] != _ZEROS[: len(data) - end]:
            raise FormatError("frame padding is not all zero bytes")
        return cls(kind, origin, kid, bytes(data[HEADER_SIZE:end]))


def seal(frame: Frame, public_key: PublicKey) -> bytes:
    """Seal a Frame to the recipient's key and wrap it: version, key id, sealed box."""
    kid = key_id(bytes(public_key))
    if frame.key_id != kid:
        raise FormatError("the frame names another key than the one it is sealed to")
    return bytes([VERSION]) + kid + SealedBox(public_key).encrypt(frame.to_bytes())


def envelope_key_id(envelope: bytes, kind: int) -> bytes:
    """Check an Envelope's outer header and size for `kind`; return the key id it names."""
    if len(envelope) != ENVELOPE_SIZES[kind]:
        raise FormatError(f"envelope is {len(envelope)} bytes, not {ENVELOPE_SIZES[kind]}")
    if envelope[0] != VERSION:
        raise FormatError(f"envelope version {envelope[0]} is not {VERSION}")
    return bytes(envelope[1 : 1 + KEY_ID_SIZE])


def open_envelope(envelope: bytes, kind: int, keys: dict[bytes, PrivateKey]) -> Frame:
    """Open an Envelope of `kind` with the key its id names, and check the inside matches the outside."""
    kid = envelope_key_id(envelope, kind)
    private_key = keys.get(kid)
    if private_key is None:
        raise FormatError(f"sealed to unknown key id {kid.hex()}")
    try:
        plain = SealedBox(private_key).decrypt(envelope[1 + KEY_ID_SIZE :])
    except CryptoError:
        raise FormatError("does not decrypt: damaged, or not sealed to this key") from None
    frame = Frame.from_bytes(plain)
    if frame.kind != kind:
        raise FormatError(f"holds a frame of kind {frame.kind} where kind {kind} belongs")
    if frame.key_id != kid:
        raise FormatError("inner key id differs from the outer one")
    return frame
