"""The export bundle: drop-box items in one length-prefixed, checksummed file for the air gap."""

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from intake.formats.item import ITEM_SIZE

MAGIC = b"INTAKE-X"
VERSION = 1
ID_SIZE = 16
CHECKSUM_SIZE = 32
CHECKSUM_DOMAIN = b"intake.bundle.v1\0"

TYPE_ITEM = 1
TYPE_ATTACHMENT = 2  # a sealed attachment stream; its id is its item's, and it follows that item
MAX_LENGTH = {TYPE_ITEM: ITEM_SIZE, TYPE_ATTACHMENT: 256 * 2**20}  # longer: refused unread

_HEADER = struct.Struct(">8sB3sI")  # magic, version, reserved (zero), entry count
_ENTRY = struct.Struct(">B16sI")  # type, id, length


class BundleError(ValueError):
    """The bundle cannot be read past this point (bad header, truncation, absurd length)."""


@dataclass(frozen=True)
class Entry:
    """One entry of a bundle, its checksum verified; `index` counts from 1."""

    index: int
    type: int
    id: bytes
    data: bytes

    @property
    def name(self: "Entry | BadEntry") -> str:
        """Name the entry in reports: its position and id, both of which the reader chose or checked."""
        return f"item {self.index} ({self.id.hex()})"


@dataclass(frozen=True)
class BadEntry:
    """An entry whose framing was intact but whose checksum did not match."""

    index: int
    type: int
    id: bytes
    reason: str

    name = Entry.name


def _checksum(head: bytes, data: bytes) -> bytes:
    h = hashlib.sha256(CHECKSUM_DOMAIN)
    h.update(head)
    h.update(data)
    return h.digest()


class Chunks(Protocol):
    """A stored stream read piece by piece (a 50 MB attachment is never all in memory)."""

    length: int

    def __iter__(self) -> Iterator[bytes]: ...


def write(stream: BinaryIO, entries: Iterable[tuple[int, bytes, "bytes | Chunks"]]) -> int:
    """Write entries of (type, id, bytes or a stored stream) to a seekable `stream`; return how many."""
    start = stream.tell()
    stream.write(_HEADER.pack(MAGIC, VERSION, bytes(3), 0))
    count = 0
    for type_, id_, data in entries:
        length = len(data) if isinstance(data, bytes) else data.length
        if len(id_) != ID_SIZE or length > MAX_LENGTH[type_]:
            raise ValueError("entry id or length out of range")
        head = _ENTRY.pack(type_, id_, length)
        checksum = hashlib.sha256(CHECKSUM_DOMAIN + head)
        stream.write(head)
        copied = 0
        for piece in (data,) if isinstance(data, bytes) else data:
            checksum.update(piece)
            stream.write(piece)
            copied += len(piece)
        if copied != length:
            raise ValueError("a stream changed length while it was exported")
        stream.write(checksum.digest())
        count += 1
    end = stream.tell()
    stream.seek(start)  # the count is known only now: items may vanish while exporting
    stream.write(_HEADER.pack(MAGIC, VERSION, bytes(3), count))
    stream.seek(end)
    return count


def _read_exactly(stream: BinaryIO, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise BundleError(f"bundle is truncated in {what}")
    return data


def read(stream: BinaryIO) -> Iterator[Entry | BadEntry]:
    """Yield the entries of a bundle in order; raise BundleError where reading must stop."""
    magic, version, reserved, count = _HEADER.unpack(_read_exactly(stream, _HEADER.size, "its header"))
    if magic != MAGIC:
        raise BundleError("not an intake export bundle")
    if version != VERSION or reserved != bytes(3):
        raise BundleError(f"bundle version {version} is not supported (this tool reads {VERSION})")
    for index in range(1, count + 1):
        where = f"item {index} of {count}"
        head = _read_exactly(stream, _ENTRY.size, where)
        type_, id_, length = _ENTRY.unpack(head)
        if type_ not in MAX_LENGTH:
            raise BundleError(f"{where} has unknown type {type_}; later items cannot be located")
        if length > MAX_LENGTH[type_]:
            raise BundleError(f"{where} claims {length} bytes; later items cannot be located")
        data = _read_exactly(stream, length, where)
        if _read_exactly(stream, CHECKSUM_SIZE, where) != _checksum(head, data):
            yield BadEntry(index, type_, id_, "checksum does not match: the bundle was damaged in transit")
        else:
            yield Entry(index, type_, id_, data)
    if stream.read(1):
        raise BundleError(f"bundle has bytes after its {count} items")
