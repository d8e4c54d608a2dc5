"""Attachment streams: Padmé padding, then fixed chunks sealed with secretbox (STREAM, as in age)."""

import os
from typing import BinaryIO, Protocol

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

CHUNK = 65536  # plaintext bytes per chunk; the last chunk holds 1 to CHUNK bytes (0 for an empty stream)
TAG = SecretBox.MACBYTES  # 16
SEALED_CHUNK = CHUNK + TAG
KEY_SIZE = SecretBox.KEY_SIZE


class StreamError(ValueError):
    """An attachment stream that is truncated, reordered, extended, or not sealed with this key."""


def padme(length: int) -> int:
    """Padmé: round up so that at most about 12% is added and the size leaks only O(log log) bits."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    size_bits = exponent.bit_length()
    mask = (1 << (exponent - size_bits)) - 1
    return (length + mask) & ~mask


def nonce(counter: int, last: bool) -> bytes:
    """15 zero bytes, the chunk counter (8 bytes, big-endian), then 1 for the last chunk, else 0."""
    return bytes(15) + counter.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


class Writable(Protocol):
    """Where sealed chunks go: a file, or a stream staged in the database."""

    def write(self, data: bytes, /) -> int: ...


class Sealer:
    """Seal a file as it arrives, holding at most two chunks in memory (Werkzeug writes into it)."""

    def __init__(self, out: Writable, key: bytes | None = None):
        self.key = key or os.urandom(KEY_SIZE)
        self.box = SecretBox(self.key)
        self.out = out
        self.buffer = bytearray()
        self.length = 0
        self.counter = 0

    def write(self, data: bytes) -> int:
        """Take more plaintext; seal every chunk that is known not to be the last."""
        self.buffer += data
        self.length += len(data)
        while len(self.buffer) > CHUNK:  # strictly more: a full chunk may yet be the last one
            self._seal(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes, last: bool) -> None:
        self.out.write(self.box.encrypt(chunk, nonce(self.counter, last)).ciphertext)
        self.counter += 1

    def finish(self) -> int:
        """Pad to the Padmé size, seal the rest with the last flag; return the file's true length."""
        length = self.length
        padding = padme(length) - length
        while padding:  # a chunk at a time: 12% of 50 MB would be 6 MB at once
            step = min(padding, CHUNK)
            self.write(bytes(step))
            padding -= step
        self._seal(bytes(self.buffer), last=True)
        self.buffer = bytearray()
        self.length = length
        return length


def open_stream(stream: BinaryIO, key: bytes, length: int, out: BinaryIO) -> None:
    """Decrypt a stream into `out`, checking every chunk, the last flag, the size and the padding."""
    box = SecretBox(key)
    padded = padme(length)
    expected = max(1, -(-padded // CHUNK))
    written = 0
    for counter in range(expected):
        last = counter == expected - 1
        size = padded - CHUNK * counter + TAG if last else SEALED_CHUNK
        sealed = stream.read(size)
        if len(sealed) != size:
            raise StreamError(f"the stream is truncated in chunk {counter + 1} of {expected}")
        try:
            plain = box.decrypt(sealed, nonce(counter, last))
        except CryptoError:
            raise StreamError(
                f"chunk {counter + 1} of {expected} does not decrypt: damaged, out of order, "
                "a last chunk missing or misplaced, or another key"
            ) from None
        keep = plain[: max(0, length - written)]
        if any(plain[len(keep) :]):
            raise StreamError("the padding is not all zero bytes")
        out.write(keep)
        written += len(keep)
    if stream.read(1):
        raise StreamError("the stream goes on after its last chunk")
